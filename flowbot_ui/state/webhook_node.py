"""The selected Webhook trigger node's endpoint, on its panel in the editor.

Publishing the flow makes the endpoint (engine/services/webhooks.py, sync_flow_endpoints);
the panel then shows its URL, a curl example, and the signing secret a publish made, once:
taking it clears the service's "unseen" mark, so a reload or another editor sees none.
"""

from __future__ import annotations

import reflex as rx

from engine.db import session_scope
from engine.services import auth, webhooks
from flowbot_ui.state.auth import AuthState
from flowbot_ui.state.room import FlowRoom


class WebhookNodeState(AuthState):
    node_id: str = ""  # the webhook node shown; "" when the selection is not one
    url: str = ""  # "" until the flow was published with this node
    curl: str = ""
    status: str = ""  # "active", "paused" or "removed"
    secret: str = ""  # the secret a publish made, shown this once

    @rx.event
    async def load(self, node_id: str) -> None:
        """Show the endpoint of ``node_id`` if it is a Webhook trigger of the open flow."""
        room = await self.get_state(FlowRoom)
        node = next((n for n in room.graph.get("nodes", []) if n.get("id") == node_id), None)
        self.node_id = node_id if node is not None and node.get("type") == "webhook" else ""
        self.url = self.curl = self.status = self.secret = ""
        if not self.node_id:
            return
        with session_scope() as session:
            user = self._current_user(session)
            view = webhooks.node_endpoint(session, room.flow_id, self.node_id)
            if view is None:
                return
            self.url = view.url
            self.curl = webhooks.curl_example(view.url, signed=view.has_secret)
            removed = view.node_removed_at is not None
            self.status = "removed" if removed else "active" if view.is_active else "paused"
            try:
                self.secret = webhooks.take_unseen_secret(session, user, view.webhook_id) or ""
            except auth.PermissionDenied:  # a viewer leaves it for an editor to see
                self.secret = ""

    @rx.event
    def hide_secret(self) -> None:
        self.secret = ""
