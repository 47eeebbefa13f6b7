"""Discord bot connector: hikari GatewayBot, REST actions, event mapper."""
