"""Members of a community (/communities/[community_ref]/members) and one member's record
with the moderation actions (/members/[member_ref])."""

from __future__ import annotations

import reflex as rx

from flowbot_ui.components.cards import dialog_footer, fact, feedback, muted, state_dialog
from flowbot_ui.components.layout import empty_state, shell
from flowbot_ui.components.table import data_table
from flowbot_ui.state.members import (
    ANY,
    MUTE_CHOICES,
    AccountItem,
    HistoryItem,
    MemberItem,
    MembershipItem,
    MembersState,
    MemberState,
    TargetItem,
    WarningItem,
)

L, M = MembersState, MemberState
PLATFORM_ICONS = (("telegram", "send"), ("discord", "gamepad-2"), ("whatsapp", "message-circle"))


def platform_icon(platform: rx.Var, size: int = 16) -> rx.Component:
    icons = [(name, rx.icon(icon, size=size)) for name, icon in PLATFORM_ICONS]
    return rx.tooltip(
        rx.box(rx.match(platform, *icons, rx.icon("user", size=size)), display="flex"),
        content=platform,
    )


def _small(text: str | rx.Var) -> rx.Component:
    return rx.text(text, size="1", color=rx.color("gray", 11))


def _badge(text: str | rx.Var, color: str, test_id: str) -> rx.Component:
    return rx.badge(text, color_scheme=color, variant="soft", radius="full", data_testid=test_id)


def _role_badge(role: rx.Var) -> rx.Component:
    return rx.cond(
        role != "member",
        _badge(role, rx.match(role, ("owner", "amber"), ("admin", "violet"), "blue"), "role"),
    )


def _select(value: rx.Var, on_change, label: str, options: list[tuple[str, str]]) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.select.root(
        rx.select.trigger(aria_label=label, data_testid=f"filter-{label.lower()}"),
        rx.select.content(*[rx.select.item(text, value=v) for v, text in options]),
        value=value,
        on_change=on_change,
        size="2",
    )


# --------------------------------------------------------------------------- the list


def _toolbar() -> rx.Component:
    return rx.hstack(
        rx.form(
            rx.hstack(
                rx.input(
                    rx.input.slot(rx.icon("search", size=16)),
                    name="search",
                    placeholder="Name, @username or user id",
                    default_value=L.search,
                    width="260px",
                    data_testid="member-search",
                ),
                rx.button("Search", type="submit", variant="soft"),
                spacing="2",
            ),
            on_submit=L.search_members,
        ),
        _select(
            L.platform_filter,
            L.pick_platform,
            "Platform",
            [
                (ANY, "All platforms"),
                ("telegram", "Telegram"),
                ("discord", "Discord"),
                ("whatsapp", "WhatsApp"),
            ],
        ),  # fmt: skip
        _select(
            L.role_filter,
            L.pick_role,
            "Role",
            [
                (ANY, "Any role"),
                ("owner", "Owners"),
                ("admin", "Admins"),
                ("moderator", "Moderators"),
                ("member", "Members"),
            ],
        ),  # fmt: skip
        _select(
            L.status_filter,
            L.pick_status,
            "Status",
            [
                (ANY, "Anyone"),
                ("present", "Still here"),
                ("warned", "Warned"),
                ("muted", "Muted"),
                ("banned", "Banned"),
                ("left", "Left"),
            ],
        ),  # fmt: skip
        _select(
            L.joined_filter,
            L.pick_joined,
            "Joined",
            [
                (ANY, "Joined any time"),
                ("1", "Joined today"),
                ("7", "Joined this week"),
                ("30", "Joined this month"),
                ("90", "Joined in 90 days"),
            ],
        ),  # fmt: skip
        rx.spacer(),
        muted("Sort"),
        _select(
            L.sort,
            L.pick_sort,
            "Sort",
            [
                ("last_active", "Last active"),
                ("joined", "Joined"),
                ("messages", "Messages"),
                ("warnings", "Warnings"),
                ("reputation", "Reputation"),
            ],
        ),  # fmt: skip
        wrap="wrap",
        align="center",
        spacing="2",
        width="100%",
    )


def _status_badges(row: MemberItem) -> rx.Component:
    return rx.hstack(
        _role_badge(row.role),
        rx.cond(row.warnings > 0, _badge(f"{row.warnings} warned", "orange", "badge-warned")),
        rx.cond(row.muted, _badge("muted", "gray", "badge-muted")),
        rx.cond(row.banned, _badge("banned", "red", "badge-banned")),
        rx.cond(row.left, _badge("left", "gray", "badge-left")),
        spacing="1",
        wrap="wrap",
    )


def _member_row(row: MemberItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.hstack(
                platform_icon(row.platform),
                rx.vstack(
                    rx.link(row.name, href=f"/members/{row.id}", weight="medium", size="2"),
                    _small(rx.cond(row.username != "", row.username, row.user_id)),
                    spacing="0",
                ),
                align="center",
                spacing="2",
            )
        ),
        rx.table.cell(_status_badges(row)),
        rx.table.cell(row.messages),
        rx.table.cell(row.reputation),
        rx.table.cell(muted(row.last_active)),
        rx.table.cell(muted(row.joined)),
        data_testid="member-row",
    )


def members_page() -> rx.Component:
    return shell(
        rx.vstack(
            rx.link(
                rx.hstack(rx.icon("arrow-left", size=14), "Communities", align="center"),
                href="/communities",
                size="2",
            ),
            rx.heading(
                rx.cond(L.community_name != "", "Members · " + L.community_name, "Members"),
                size="7",
            ),
            muted("Everyone seen in the community's chats: joins, leaves and messages."),
            spacing="1",
            width="100%",
        ),
        feedback(L),
        rx.cond(
            L.missing,
            empty_state("users", "No such community", "It may have been deleted."),
            rx.vstack(
                _toolbar(),
                rx.cond(
                    L.rows.length() > 0,
                    data_table(
                        ["Member", "Status", "Messages", "Reputation", "Last active", "Joined"],
                        L.rows,
                        _member_row,
                    ),
                    rx.cond(
                        L.loaded,
                        empty_state(
                            "users",
                            "No members match",
                            "Members appear as people join and write in the community's "
                            "chats; change the search or filters to see more.",
                        ),
                    ),
                ),
                rx.cond(
                    L.next_cursor != "",
                    rx.button(
                        "Load more", variant="soft", on_click=L.load_more, data_testid="load-more"
                    ),
                ),
                spacing="4",
                width="100%",
                align="center",
            ),
        ),
    )


# --------------------------------------------------------------------------- one member

_ACTION_BUTTONS = (
    ("warn", "Warn", "triangle-alert", "orange"),
    ("mute", "Mute", "volume-x", "gray"),
    ("unmute", "Unmute", "volume-2", "gray"),
    ("kick", "Kick", "log-out", "amber"),
    ("ban", "Ban", "ban", "red"),
    ("unban", "Unban", "circle-check", "green"),
    ("ban_everywhere", "Ban everywhere", "shield-ban", "red"),
)


def _action_bar() -> rx.Component:
    return rx.hstack(
        *[
            rx.button(
                rx.icon(icon, size=16),
                label,
                variant="soft",
                color_scheme=color,
                on_click=M.open_action(action),
                disabled=~M.can_edit,
                data_testid=f"action-{action}",
            )
            for action, label, icon, color in _ACTION_BUTTONS
        ],
        wrap="wrap",
        spacing="2",
    )


def _target(target: TargetItem) -> rx.Component:
    return rx.hstack(
        rx.icon(
            rx.cond(target.ok, "circle-check", "circle-x"),
            size=16,
            color=rx.cond(target.ok, rx.color("green", 10), rx.color("red", 10)),
        ),
        platform_icon(target.platform, 14),
        rx.code(target.chat_id, size="1"),
        muted(rx.cond(target.ok, "done", target.error)),
        align="center",
        spacing="2",
        data_testid="result-target",
    )


def _result_panel() -> rx.Component:
    result = M.result
    return rx.cond(
        result,
        rx.callout.root(
            rx.callout.icon(rx.icon(rx.cond(result.ok, "check", "triangle-alert"))),
            rx.vstack(
                rx.text(result.summary, size="2", weight="medium", data_testid="result-summary"),
                rx.foreach(result.targets, _target),
                spacing="1",
            ),
            color_scheme=rx.cond(result.ok, "green", "amber"),
            width="100%",
            data_testid="result-panel",
        ),
    )


def _card(title: str, *body: rx.Component, test_id: str = "") -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, size="3"), *body, spacing="3", width="100%"),
        width="100%",
        data_testid=test_id,
    )


def _facts() -> rx.Component:
    return _card(
        "Record",
        rx.data_list.root(
            rx.foreach(M.facts, lambda item: fact_var(item[0], item[1])), size="2", spacing="2"
        ),
        test_id="member-facts",
    )


def fact_var(label: rx.Var, value: rx.Var) -> rx.Component:
    return rx.data_list.item(
        rx.data_list.label(label, min_width="120px"), rx.data_list.value(rx.text(value, size="2"))
    )


def _totals() -> rx.Component:
    return _card(
        "Counted together",
        muted("Every account linked to this person, in this community (bans: anywhere)."),
        rx.data_list.root(
            fact("Accounts", rx.text(M.totals["accounts"], size="2")),
            fact(
                "Active warnings",
                rx.text(M.totals["active_warnings"], size="2", data_testid="total-warnings"),
            ),
            fact("Warnings ever", rx.text(M.totals["warnings"], size="2")),
            fact("Reputation", rx.text(M.totals["reputation"], size="2")),
            fact("Messages", rx.text(M.totals["messages"], size="2")),
            fact("Bans", rx.text(M.totals["bans"], size="2")),
            size="2",
            spacing="2",
        ),  # fmt: skip
        test_id="member-totals",
    )


def _membership(m: MembershipItem) -> rx.Component:
    return rx.hstack(
        rx.link(m.community, href=f"/members/{m.member_id}", size="2"),
        _small(m.role + " · " + m.messages.to_string() + " messages"),
        rx.cond(m.flags != "", _badge(m.flags, "red", "membership-flags")),
        spacing="2",
        align="center",
    )


def _account(a: AccountItem) -> rx.Component:
    return rx.hstack(
        platform_icon(a.platform, 20),
        rx.vstack(
            rx.hstack(
                rx.text(a.name, weight="medium", size="2"),
                _small(a.username),
                _small(a.user_id),
                rx.cond(a.phone != "", _small(a.phone)),
                spacing="2",
                align="center",
            ),
            _small(a.seen),
            rx.foreach(a.memberships, _membership),
            spacing="1",
        ),
        align="start",
        spacing="3",
        data_testid="linked-account",
    )


def _accounts() -> rx.Component:
    return _card(
        "Accounts",
        rx.cond(M.identity != "", muted("Linked as " + M.identity), muted("Not linked to others.")),
        rx.vstack(rx.foreach(M.accounts, _account), spacing="3"),
        test_id="member-accounts",
    )


def _warning_row(w: WarningItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(platform_icon(w.platform, 14)),
        rx.table.cell(rx.text(w.reason, size="2")),
        rx.table.cell(muted(w.issued_by)),
        rx.table.cell(muted(w.created)),
        rx.table.cell(muted(w.expires)),
        rx.table.cell(
            rx.vstack(
                _badge(
                    w.status,
                    rx.match(w.status, ("active", "orange"), ("revoked", "gray"), "blue"),
                    "warning-status",
                ),
                rx.cond(w.revoke_reason != "", _small(w.revoke_reason)),
                spacing="1",
            )
        ),
        rx.table.cell(
            rx.cond(
                w.status == "active",
                rx.button(
                    "Revoke",
                    size="1",
                    variant="soft",
                    on_click=M.open_revoke(w.id),
                    disabled=~M.can_edit,
                    data_testid="revoke-warning",
                ),
            )
        ),
        data_testid="warning-row",
    )


def _warnings() -> rx.Component:
    return _card(
        "Warnings",
        rx.cond(
            M.warnings.length() > 0,
            data_table(
                ["", "Reason", "By", "Given", "Expires", "Status", ""], M.warnings, _warning_row
            ),
            muted("No warnings."),
        ),
        test_id="member-warnings",
    )


def _history_row(item: HistoryItem, *, with_delta: bool) -> rx.Component:
    cells = [rx.table.cell(muted(item.when)), rx.table.cell(rx.text(item.what, size="2"))]
    if with_delta:
        cells.append(
            rx.table.cell(
                rx.text(
                    rx.cond(item.delta > 0, "+" + item.delta.to_string(), item.delta.to_string()),
                    color=rx.cond(item.delta >= 0, rx.color("green", 11), rx.color("red", 11)),
                    size="2",
                )
            )
        )
    cells += [rx.table.cell(muted(item.actor)), rx.table.cell(rx.text(item.reason, size="2"))]
    return rx.table.row(*cells, data_testid="history-row")


def _reputation() -> rx.Component:
    return _card(
        "Reputation history",
        rx.cond(
            M.reputation.length() > 0,
            data_table(
                ["When", "Rule", "Change", "By", "Reason"],
                M.reputation,
                lambda item: _history_row(item, with_delta=True),
            ),
            muted("No reputation changes yet."),
        ),
        test_id="member-reputation",
    )


def _moderation() -> rx.Component:
    return _card(
        "Moderation history",
        rx.cond(
            M.moderation.length() > 0,
            data_table(
                ["When", "Action", "By", "Reason"],
                M.moderation,
                lambda item: _history_row(item, with_delta=False),
            ),
            muted("No moderation actions."),
        ),
        test_id="member-moderation",
    )


def _action_dialog() -> rx.Component:
    return state_dialog(
        M,
        M.action_title,
        M.action_help,
        rx.form(
            rx.vstack(
                rx.cond(
                    M.action_open == "mute",
                    rx.vstack(
                        rx.text("For", size="2", weight="medium"),
                        rx.select.root(
                            rx.select.trigger(data_testid="mute-duration"),
                            rx.select.content(
                                *[rx.select.item(t, value=v) for v, t in MUTE_CHOICES.items()]
                            ),
                            value=M.mute_minutes,
                            on_change=M.pick_mute_minutes,
                        ),
                        spacing="1",
                        width="100%",
                    ),
                ),
                rx.text("Reason", size="2", weight="medium"),
                rx.text_area(
                    name="reason",
                    placeholder="Kept in the moderation log and posted to the log chat",
                    width="100%",
                    data_testid="action-reason",
                ),
                dialog_footer(rx.button("Confirm", type="submit", data_testid="action-confirm")),
                spacing="3",
                width="100%",
            ),
            on_submit=M.confirm_action,
            reset_on_submit=False,
        ),
        open=M.action_open != "",
        data_testid="action-dialog",
    )


def _revoke_dialog() -> rx.Component:
    return state_dialog(
        M,
        "Revoke warning",
        "It stops counting at once; the moderation log keeps who revoked it and why.",
        rx.form(
            rx.vstack(
                rx.text_area(
                    name="reason",
                    placeholder="Why (required)",
                    width="100%",
                    data_testid="revoke-reason",
                ),
                dialog_footer(rx.button("Revoke", type="submit", data_testid="revoke-confirm")),
                spacing="3",
                width="100%",
            ),
            on_submit=M.confirm_revoke,
        ),
        open=M.revoke_for > 0,
        data_testid="revoke-dialog",
    )


def _member_header() -> rx.Component:
    return rx.vstack(
        rx.link(
            rx.hstack(rx.icon("arrow-left", size=14), "Members · " + M.community_name),
            href=f"/communities/{M.community_id}/members",
            size="2",
        ),
        rx.hstack(
            platform_icon(M.platform, 24),
            rx.heading(M.name, size="7", data_testid="member-name"),
            muted(M.username),
            _role_badge(M.role),
            rx.cond(M.muted, _badge("muted", "gray", "badge-muted")),
            rx.cond(M.banned, _badge("banned", "red", "badge-banned")),
            rx.cond(M.left, _badge("left", "gray", "badge-left")),
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        muted(M.platform + " user id " + M.user_id),
        spacing="1",
        width="100%",
    )


def member_page() -> rx.Component:
    return shell(
        rx.cond(
            M.missing,
            empty_state(
                "user", "No such member", "They may have been removed with their community."
            ),
            rx.vstack(
                _member_header(),
                _action_bar(),
                rx.cond(
                    ~M.can_edit & M.signed_in,
                    rx.callout(
                        "You can look but not act: moderating needs the editor role.",
                        icon="eye",
                        color_scheme="gray",
                        size="1",
                    ),
                ),
                feedback(M),
                _result_panel(),
                rx.grid(
                    _facts(),
                    _totals(),
                    columns=rx.breakpoints(initial="1", lg="2"),
                    spacing="4",
                    width="100%",
                ),
                _accounts(),
                _warnings(),
                _moderation(),
                _reputation(),
                spacing="4",
                width="100%",
            ),
        ),
        _action_dialog(),
        _revoke_dialog(),
    )
