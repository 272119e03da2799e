"""The event ``kind`` vocabulary: small and stable, the same for every vendor.

==================  =========================================================================
kind                meaning (examples)
==================  =========================================================================
bad-spi             the device dropped an ESP/AH packet whose SPI it has no SA for
                    (ScreenOS 00026, ASA 402114, IOS RECVD_PKT_INV_SPI, FortiOS 0101037131,
                    Linux SA-notfound, PAN-OS "can't find sa")
replay              ESP/AH packet dropped by the anti-replay check (ScreenOS 00042, ASA 402119,
                    IOS PKT_REPLAY_ERR with its ``conn_id``, SonicOS m=1388 "Replay check failure.")
esp-error           another ESP/AH drop with the packet's SPI (authentication, policy, ...)
bad-spi-response    IKE's reaction to a bad SPI (ScreenOS 00536 "Received a bad SPI",
                    "Responded to a packet with a bad SPI after rebooting")
invalid-spi-notify  an INVALID_SPI notification sent or received (``direction`` out/in)
initial-contact     an INITIAL_CONTACT notification sent or received (``direction`` out/in)
p1-initiated        phase 1 / IKE SA negotiation started
p1-complete         phase 1 / IKE SA established
p2-initiated        phase 2 / child SA negotiation or rekey started (strongSwan "creating rekey job")
p2-complete         phase 2 / child SA established, with its SPI(s) where the line has them
                    (ScreenOS 00536, SRX KMD_PM_SA_ESTABLISHED, ASA 713049, strongSwan, pluto)
sa-created          one SA installed (ASA 602303, Linux SAD-add, IOS "Successfully installed IPSEC SA")
sa-rekeyed          the SA with these SPIs was rekeyed (strongSwan: old SPIs; ASA 702305)
sa-deleted          SA removed or a DELETE sent/received (ASA 602304, strongSwan, pluto, PAN-OS)
sa-deactivated      SA deactivated, e.g. by VPN monitor or idle timeout (ScreenOS 00536)
vpn-up, vpn-down    tunnel state changes (ScreenOS 00040/00041, SRX KMD_VPN_*_ALARM_USER, ASA 713259/113019)
ike-error           an IKE failure (retransmission limit, rejected packet, error notify)
==================  =========================================================================

Lines of a known format that report none of these (traffic logs, charon chatter) are
counted as ``ignored``, never turned into events.  ``direction`` is the SPI's direction
as this device sees it (in = the SA it receives on); for notifications it is the
notification's direction.
"""
KINDS = ("bad-spi", "replay", "esp-error", "bad-spi-response", "invalid-spi-notify", "initial-contact",
         "p1-initiated", "p1-complete", "p2-initiated", "p2-complete", "sa-created", "sa-rekeyed", "sa-deleted",
         "sa-deactivated", "vpn-up", "vpn-down", "ike-error")
