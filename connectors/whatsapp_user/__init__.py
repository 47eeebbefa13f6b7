"""WhatsApp account connector: neonize client, QR/pairing login, actions, event mapper."""
