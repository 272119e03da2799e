"""What the causes that rest on packets the peer sent share: the line's own proof (its
SPI and SEQ in a packet the peer sent to the device) and the evidence selector."""
from __future__ import annotations

from .base import Claim, Context, frames_of, seconds
from .selectors import Selector

PEER_ROLES = ("sent-by-peer", "esp")


def peer_match(line, ctx: Context) -> tuple[str, bool, tuple]:
    """(key, exact, frames) of the packets the peer sent that this line names; key ''
    when none."""
    m = [x for x in ctx.matches_for(line.event_id) if x.role in PEER_ROLES]
    if not m:
        return "", False, ()
    exact = [x for x in m if x.key == "spi+seq"]
    return ("spi+seq" if exact else m[0].key), bool(exact), frames_of(exact or m)


def peer_selector(claim: Claim, ctx: Context, extend_s: float = 0.0) -> Selector | None:
    """The peer's ESP/AH on the claimed SPIs to the device, from the first packet a line
    names to the last (plus ``extend_s``: the packets a rate-limited line stands for)."""
    frames = claim.frames()
    if not frames or not claim.spis:
        return None
    # The named packets are the claimed SPIs' own: find them among those SPIs' rows.
    p = ctx.select([Selector("ipsec-to", spis=tuple(claim.spis))])
    wanted = set(frames)
    named = p[[(c, f) in wanted for c, f in zip(p["capture"], p["frame"])]]
    if named.empty:
        return None
    dst = named["dst"].mode().iloc[0]
    t = seconds(named["time"])
    return Selector.spanning("ipsec-to", [t.min(), t.max() + extend_s], spis=tuple(claim.spis), dst=dst)
