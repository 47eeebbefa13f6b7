"""The cross-post rule dialog's form: what the browser sends becomes the service's draft
(switches present only when on, comma-separated words, "as is" meaning no template), and a
rule's filter reads as the admin would say it."""

from __future__ import annotations

from engine.services.cross_posting import CrossPostFilter, RuleDraft
from flowbot_ui.state.cross_posting import AS_IS, filter_words, rule_fields


def test_a_submitted_form_is_a_valid_draft() -> None:
    form = {
        "name": "News to Discord",
        "template": "7",
        "contains": " sale, , offer ",
        "regex": "",
        "media_only": "on",
        "mirror_edits": "on",
    }
    draft = RuleDraft.model_validate(rule_fields(form, 3, [4, 5]))
    assert draft.source_chat_id == 3 and draft.target_chat_ids == [4, 5]
    assert draft.template_id == 7
    assert draft.filter == CrossPostFilter(contains=["sale", "offer"], media_only=True,
                                           skip_bots=False)  # fmt: skip
    assert draft.mirror_edits and not draft.mirror_deletes and not draft.include_media


def test_as_is_means_no_template_and_an_empty_filter_matches_everything() -> None:
    fields = rule_fields({"name": "Plain", "template": AS_IS, "skip_bots": "on"}, 1, [2])
    draft = RuleDraft.model_validate(fields)
    assert draft.template_id is None and draft.filter.regex is None
    assert draft.filter.matches("anything", has_media=False, from_bot=False)


def test_the_filter_in_words() -> None:
    assert filter_words(CrossPostFilter(skip_bots=False)) == "Every message"
    assert filter_words(CrossPostFilter(contains=["SALE"], skip_bots=False)) == "Containing: SALE"
    assert (
        filter_words(CrossPostFilter(contains=["sale", "offer"], media_only=True, regex="^#"))
        == "Only messages with photos or files; containing: sale, offer; "
        "matching the pattern ^#; not from bots"
    )
