"""Which address a request came from, trusting X-Forwarded-For only from configured proxies.

Anyone can send X-Forwarded-For; believing it would let an attacker pick the address its
failed sign-ins are counted against. The header is read right to left, skipping the
trusted proxies (FLOWBOT_TRUSTED_PROXIES): the first address that is not one of them is
the client.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from engine.settings import get_settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str, forwarded_for: str = "") -> str:
    """The client's address for a connection from ``peer`` carrying ``forwarded_for``."""
    networks = _networks(tuple(get_settings().trusted_proxies))
    if not networks or not _is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            return hop
    return hops[0] if hops else peer
