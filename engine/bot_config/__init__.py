"""Bot configuration: commands, responses, menus and translations a bot answers with itself.

``document`` is the schema of one bot's configuration (the draft and every published version
are one such document), ``answers`` decides what the bot says to an incoming command, text or
button without running a flow.
"""
