"""What the causes that rest on packets the peer sent share: the line's own proof (its
SPI and SEQ in a packet the peer sent to the device) and the evidence selector."""
from __future__ import annotations

import pandas as pd

from .base import Claim, Context, seconds
from .selectors import Selector

PEER_ROLES = ("sent-by-peer", "esp")


def peer_match(line, ctx: Context) -> tuple[str, bool, tuple]:
    """(key, exact, frames) of the packets the peer sent that this line names; key ''
    when none."""
    m = ctx.matches_for(line.event_id)
    m = m[m["role"].isin(PEER_ROLES)]
    if m.empty:
        return "", False, ()
    exact = m[m["key"] == "spi+seq"]
    use = exact if len(exact) else m
    frames = tuple(sorted({(str(c), int(f)) for c, f in zip(use["capture"], use["frame"])}))
    return ("spi+seq" if len(exact) else str(use["key"].iloc[0])), bool(len(exact)), frames


def peer_selector(claim: Claim, ctx: Context) -> Selector | None:
    """The peer's ESP/AH on the claimed SPIs to the device, from the first packet a line
    names to the last."""
    frames = claim.frames()
    if not frames or not claim.spis:
        return None
    p = ctx.packets
    named = p.merge(pd.DataFrame(frames, columns=["capture", "frame"]).astype(
        {"capture": p["capture"].dtype, "frame": p["frame"].dtype}), on=["capture", "frame"])
    named = named[named["kind"].isin(["esp", "ah", "esp-in-udp"])]
    if named.empty:
        return None
    dst = named["dst"].mode().iloc[0]
    return Selector.spanning("ipsec-to", seconds(named["time"]), spis=tuple(claim.spis), dst=dst)
