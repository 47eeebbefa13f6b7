"""The Rules tab's form: what it shows for saved rules, sent back unchanged, saves the same
rules; empty numbers mean "off"; per-platform texts keep the platform's other overrides."""

from __future__ import annotations

from typing import Any

from engine.community_rules import CommunityRules
from flowbot_ui.state.communities import NO_CHAT, form_fields, rules_document


def _submitted(rules: CommunityRules) -> dict[str, Any]:
    """The form as the browser sends it untouched: texts, and switches only when on."""
    values, flags = form_fields(rules)
    form: dict[str, Any] = {**values, **{name: "on" for name, on in flags.items() if on}}
    for i, rule in enumerate(rules.reputation.earning):
        form[f"earning.{i}.keywords"] = ", ".join(rule.keywords)
        form[f"earning.{i}.points"] = str(rule.points)
        form[f"earning.{i}.daily_cap"] = "" if rule.daily_cap is None else str(rule.daily_cap)
    for platform, changes in rules.overrides.items():
        if "welcome" in changes or "rules_text" in changes:
            shown = rules.for_platform(platform)
            form[f"overrides.{platform}.enabled"] = "on"
            form[f"overrides.{platform}.welcome"] = shown.welcome.message
            form[f"overrides.{platform}.rules_text"] = shown.rules_text
    return form


def _round_trip(rules: CommunityRules) -> CommunityRules:
    overrides = rules.model_dump(mode="json")["overrides"]
    document = rules_document(_submitted(rules), len(rules.reputation.earning), overrides)
    return CommunityRules.model_validate(document)


def test_saved_rules_come_back_unchanged() -> None:
    rules = CommunityRules.model_validate(
        {
            "rules_text": "Be kind.\nNo spam.",
            "welcome": {"enabled": True, "message": "Hi {{ member.name }}",
                        "delete_after_seconds": 60},
            "warnings": {"mute_at": None, "ban_at": 4, "expire_days": None},
            "antiflood": {"enabled": True, "messages": 7, "action": "delete_mute"},
            "antilink": {"enabled": True, "allowed_domains": ["example.com", "docs.example.org"],
                         "block_invites": False},
            "banned_words": {"enabled": True, "words": [{"pattern": "sp[a4]m", "regex": True},
                                                        {"pattern": "sc(a|4)m", "regex": True}]},
            "hold": {"enabled": True, "minutes": 3, "button_text": "I am human"},
            "reputation": {"earning": [{"keywords": ["thanks", "thank you"], "points": 2,
                                        "daily_cap": None},
                                       {"keywords": ["danke"], "points": 1, "daily_cap": 3}]},
            "log_chat_id": 12,
            "overrides": {"discord": {"welcome": {"message": "Hey {{ member.name }}"},
                                      "antiflood": {"messages": 10}}},
        }
    )  # fmt: skip
    assert _round_trip(rules) == rules
    assert _round_trip(CommunityRules()) == CommunityRules()


def test_what_the_form_shows() -> None:
    values, flags = form_fields(CommunityRules(log_chat_id=None))
    assert values["warnings.mute_at"] == "3" and values["welcome.delete_after_seconds"] == ""
    assert values["log_chat_id"] == NO_CHAT and values["antiflood.action"] == "delete_warn"
    assert flags["antilink.block_invites"] and not flags["welcome.enabled"]


def test_switching_a_platform_text_off_keeps_its_other_overrides() -> None:
    rules = CommunityRules.model_validate(
        {"overrides": {"discord": {"welcome": {"message": "Hey"}, "antiflood": {"messages": 9}},
                       "whatsapp": {"rules_text": "WA rules"}}}
    )  # fmt: skip
    form = _submitted(rules)
    del form["overrides.discord.enabled"], form["overrides.whatsapp.enabled"]
    overrides = rules.model_dump(mode="json")["overrides"]
    document = rules_document(form, len(rules.reputation.earning), overrides)
    assert document["overrides"] == {"discord": {"antiflood": {"messages": 9}}}
    form["overrides.telegram.enabled"] = "on"
    form["overrides.telegram.welcome"] = "Привет, {{ member.name }}"
    form["overrides.telegram.rules_text"] = ""
    document = rules_document(form, len(rules.reputation.earning), overrides)
    saved = CommunityRules.model_validate(document)
    assert saved.for_platform("telegram").welcome.message == "Привет, {{ member.name }}"
    assert saved.for_platform("discord").welcome.message == rules.welcome.message
