"""What is known about each gateway vendor, with its source: log rate limits, replay
window, ICMP handling, and the vendor's own commands for the advice the tool prints.

Only sourced facts are here (the tags name the entries of the project's vendor-facts
notes; each ``Source`` carries the public document).  Where nothing is documented the
field is ``None`` and the advice says what to check instead, never a guess.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Source:
    tag: str
    where: str           # URL, or repository and path

    def __str__(self) -> str:
        return f"[{self.tag}] {self.where}"


@dataclass(frozen=True)
class Fact:
    """One documented fact and where it is written."""

    text: str
    source: Source | None = None      # None: nothing documented (the text says so)


@dataclass(frozen=True)
class VendorProfile:
    key: str                                    # the events table's ``vendor`` value
    name: str
    bad_spi_rate_limit_s: float | None          # one bad-SPI line per tunnel per this many seconds
    rate_limit: Fact
    replay_window: int | None                   # default anti-replay window (packets); None: not documented
    replay_window_fact: Fact
    icmp_quote: Fact                            # how it handles ICMP errors quoting its own IPsec packets
    version_command: str                        # shows the firmware/software version
    sa_command: str                             # shows the SAs (SPIs) of a tunnel
    actions: dict = field(default_factory=dict)  # cause -> advice in this vendor's commands
    collect: tuple[str, ...] = ()               # what to collect when nothing explains the lines
    fixed_in: tuple[int, int] | None = None     # the version that stopped logging ICMP quotes as bad SPI

    def icmp_quote_affected(self, version: str | None) -> bool | None:
        """True: this version logs ICMP quotes of its own packets as bad SPI (documented);
        False: it does not (documented fix); None: unknown (no version, or no document)."""
        if self.fixed_in is None or not version:
            return None
        m = re.match(r"(\d+)\.(\d+)", version)
        if not m:
            return None
        return (int(m.group(1)), int(m.group(2))) < self.fixed_in

    def action(self, cause: str) -> str:
        return self.actions.get(cause) or REPLAY_ACTIONS.get(self.key, {}).get(cause) or GENERIC_ACTIONS.get(cause, "")


# ---------------------------------------------------------------- sources

KB10091 = Source("SO3", "Juniper KB10091, https://kb.juniper.net/InfoCenter/index?page=content&id=KB10091")
LIBRESWAN_INTEROP = Source("SO5", "libreswan/libreswan.github.io Interoperability.md")
SCREENOS_SYSTEM = Source("SO9", "allegro/ralph src/ralph/scan/plugins/ssh_ssg.py (get system: Software Version)")
SCREENOS_SA = Source("SO8", "Juniper KB6134, http://kb.juniper.net/KB6134")
SRX_STIG = Source("JX1", "DISA Juniper SRX VPN STIG v2r2 (Tenable audit): replay window of 64 or 32")
ASA_402119 = Source("AS1", "https://kb.eventtracker.com/evtpass/evtPages/MessageCode_ASA-4-402119_67822.asp")
ASA_COUNTERS = Source("AS4", "https://networkengineering.stackexchange.com/questions/25655")
ASA_LIFETIME = Source("AS8", "Cisco CSCwc54984, https://findbugzero.com/operational-defect-database/vendors/cisco/"
                             "defects/CSCwc54984")
IOS_REPLAY = Source("IO1", "https://www.cisco.com/c/en/us/support/docs/ip/internet-key-exchange-ike/"
                           "116858-problem-replay-00.html")
IOS_INVALID_SPI = Source("IO6", "https://cisco.com/c/en/us/td/docs/ios-xml/ios/sec_conn_dplane/configuration/xe-16/"
                                "sec-ipsec-data-plane-xe-16-book/sec-invalid-index-rec.html")
IOS_DFBIT = Source("IO7", "Cisco, DF Bit Override Functionality with IPsec Tunnels")
FORTI_UNKNOWN_SPI = Source("FO7", "https://community.fortinet.com/t5/FortiGate/Technical-Tip-Difference-in-ESP-and-"
                                  "IKE-packet-handling-of-local/ta-p/199842")
PANOS_REPLAY = Source("PA1", "https://knowledgebase.paloaltonetworks.com/KCSArticleDetail?id=kA10g000000PNBZCA4")
PANOS_RACE = Source("PA4", "https://knowledgebase.paloaltonetworks.com/KCSArticleDetail?id=kA1Ki000000TNW8KAO")
STRONGSWAN_REPLAY = Source("SW1", "strongswan/strongswan conf/options/charon.opt")
STRONGSWAN_REKEY = Source("SW2", "strongswan/strongswan src/swanctl/swanctl.opt")
LIBRESWAN_REPLAY = Source("LS1", "libreswan/libreswan configs/d.ipsec.conf/conn/replay-window.xml")
LINUX_ESP4_ERR = Source("LX4", "Linux net/ipv4/esp4.c esp4_err(): unknown SPI -> return 0 (ignored, no log)")
LINUX_XFRM_STAT = Source("LX1", "torvalds/linux Documentation/networking/xfrm_proc.rst")

NOTHING_KNOWN_ICMP = ("No public document describes this vendor logging ICMP errors that quote its own IPsec "
                      "packets as bad SPI (the one documented case is another vendor's old firmware, Juniper "
                      "KB10091)")

# Advice that holds for every vendor (no vendor command in it).
GENERIC_ACTIONS = {
    "embedded-icmp": ("The lines are a symptom of ICMP errors from the path: fix what the router reports{detail}. "
                      + NOTHING_KNOWN_ICMP + ": send this evidence to the vendor."),
    "rekey-collision": "Both gateways renegotiate Phase 2 at nearly the same time: give the two sides different "
                       "Phase 2 lifetimes so that one of them always starts the rekey (the fix Cisco documents for "
                       "this race, CSCwc54984).",
    "spi-before-install": "The peer sends on a new SA before this device has installed it: brief after each rekey; "
                          "if it repeats, compare the rekey timing on both sides.",
    "stale-sa": "The peer keeps sending on an SA this device no longer has (after a reboot, failover or a manual "
                "clear): clear that SA on the peer so both sides negotiate a new one.",
}

SCREENOS_COLLECT = ("get tech", "get event", "get ike cookie", "get sa", "get sa stat", "get sa id <id>",
                    "a sniffer trace at the time of the messages", "debug flow basic at the same time")

PROFILES: dict[str, VendorProfile] = {p.key: p for p in (
    VendorProfile(
        "screenos", "Juniper ScreenOS", 10.0,
        Fact("one bad-SPI line per tunnel every 10 s, unless `set firewall log-self ike`", KB10091),
        None, Fact("default anti-replay window not documented", None),
        Fact("ScreenOS before 5.4 logs ICMP errors quoting its own ESP/AH packets as bad SPI; 5.4 and later "
             "drop them without logging", KB10091),
        "get system", "get sa",
        actions={
            "embedded-icmp": "ScreenOS before 5.4 logs ICMP errors that quote its own ESP/AH packets as packets with "
                             "a bad SPI (KB10091): upgrade to ScreenOS 5.4 or later. The lines are a symptom: fix "
                             "what the router reports{detail}.",
            "rekey-collision": "Both gateways renegotiate Phase 2 at nearly the same time: raise the rekey margin "
                               "with `set ike soft-lifetime-buffer 40` (default 10 s), then tune it (KB10091).",
            "spi-before-install": "The peer sends on a new SA before this device has installed it (KB10091 cause 3). "
                                  "If it repeats, collect `get sa id <id>`, `get ike cookie` and `debug flow basic` "
                                  "at a rekey and open a case with JTAC (KB10091's list).",
            "stale-sa": "The peer keeps sending on an SA this device no longer has (after a reboot, a failover or a "
                        "manual clear): clear that SA on the peer; check `get sa` and `get ike cookie` here.",
        },
        collect=SCREENOS_COLLECT, fixed_in=(5, 4)),
    VendorProfile(
        "junos", "Juniper Junos (SRX)", None, Fact("bad-SPI log rate limit not documented", None),
        None, Fact("default replay window 64 or 32, depending on the platform", SRX_STIG),
        Fact(NOTHING_KNOWN_ICMP, None), "show version", "show security ipsec security-associations detail",
        actions={"stale-sa": GENERIC_ACTIONS["stale-sa"] + " Check `show security ipsec security-associations "
                                                           "detail` here."},
        collect=("show version", "show security ipsec security-associations detail",
                 "show security ipsec statistics", "a packet capture at the time of the messages")),
    VendorProfile(
        "asa", "Cisco ASA", None,
        Fact("bad-SPI log rate limit not documented (402119 replay: one per 5 s)", ASA_402119),
        None, Fact("default replay window not documented", None),
        Fact("keeps per-SA counters of valid and invalid ICMP errors; no document describes logging them as bad "
             "SPI", ASA_COUNTERS),
        "show version", "show crypto ipsec sa",
        actions={"rekey-collision": "Both gateways renegotiate Phase 2 at nearly the same time: make the ASA's "
                                    "IPsec SA lifetime longer than the peer's so that the ASA is always the rekey "
                                    "responder (Cisco CSCwc54984).",
                 "stale-sa": GENERIC_ACTIONS["stale-sa"] + " Check `show crypto ipsec sa` (#pkts invalid sa (rcv))."},
        collect=("show version", "show crypto ipsec sa", "show asp table vpn-context detail",
                 "a packet capture at the time of the messages")),
    VendorProfile(
        "ios", "Cisco IOS / IOS-XE", None, Fact("RECVD_PKT_INV_SPI rate limit not documented", None),
        64, Fact("default anti-replay window 64 packets", IOS_REPLAY),
        Fact(NOTHING_KNOWN_ICMP + "; the DF bit is set with `crypto ipsec df-bit {clear | set | copy}`", IOS_DFBIT),
        "show version", "show crypto ipsec sa detail",
        actions={"stale-sa": "The peer keeps sending on an SA this router no longer has: `crypto isakmp "
                             "invalid-spi-recovery` (off by default) makes IOS send an INVALID_SPI notify when an "
                             "IKE SA exists; otherwise clear the SA on the peer."},
        collect=("show version", "show crypto ipsec sa detail", "a packet capture at the time of the messages")),
    VendorProfile(
        "fortios", "Fortinet FortiOS", None,
        Fact("the unknown-SPI log is rate limited; the interval is not documented", FORTI_UNKNOWN_SPI),
        None, Fact("default replay window not documented", None), Fact(NOTHING_KNOWN_ICMP, None),
        "get system status", "diagnose vpn tunnel list name <tunnel>",
        actions={"stale-sa": GENERIC_ACTIONS["stale-sa"] + " Check `diagnose vpn tunnel list name <tunnel>` here."},
        collect=("get system status", "diagnose vpn tunnel list name <tunnel>", "diagnose debug application ike -1",
                 "a packet capture at the time of the messages")),
    VendorProfile(
        "panos", "Palo Alto PAN-OS", None, Fact("bad-SPI log not documented", None),
        None, Fact("replay window 64 fixed up to PAN-OS 10.0; 1024 by default, configurable, from 10.1", PANOS_REPLAY),
        Fact(NOTHING_KNOWN_ICMP, None), "show system info", "show vpn ipsec-sa",
        actions={"rekey-collision": "Both gateways renegotiate Phase 2 at nearly the same time. Palo Alto's KB "
                                    "describes this race between peers with identical Phase 1 and Phase 2 lifetimes; "
                                    "Cisco's fix for the same race (CSCwc54984) makes the lifetimes differ so that "
                                    "one side is always the rekey responder."},
        collect=("show system info", "show vpn ipsec-sa", "show vpn flow tunnel-id <id>",
                 "a packet capture at the time of the messages")),
    VendorProfile(
        "strongswan", "strongSwan (Linux kernel IPsec)", None,
        Fact("the kernel drops unknown SPIs with an audit record, no rate-limited log", LINUX_XFRM_STAT),
        32, Fact("charon.replay_window = 32", STRONGSWAN_REPLAY),
        Fact("the Linux kernel ignores ICMP errors quoting an SPI it does not know, without a log", LINUX_ESP4_ERR),
        "swanctl --version", "swanctl --list-sas",
        actions={"rekey-collision": "Both sides rekey at nearly the same time: keep `rand_time` (on by default) so "
                                    "strongSwan subtracts a random time from `rekey_time` (swanctl.conf).",
                 "stale-sa": GENERIC_ACTIONS["stale-sa"] + " Here: `swanctl --list-sas`; the kernel counts the drops "
                                                           "as XfrmInNoStates in /proc/net/xfrm_stat."},
        collect=("swanctl --version", "swanctl --list-sas", "cat /proc/net/xfrm_stat", "ip -s xfrm state",
                 "a packet capture at the time of the messages")),
    VendorProfile(
        "libreswan", "libreswan (Linux kernel IPsec)", None,
        Fact("the kernel drops unknown SPIs with an audit record, no rate-limited log", LINUX_XFRM_STAT),
        128, Fact("replay-window default 128 packets (32 in older releases)", LIBRESWAN_REPLAY),
        Fact("the Linux kernel ignores ICMP errors quoting an SPI it does not know, without a log", LINUX_ESP4_ERR),
        "ipsec version", "ipsec trafficstatus",
        collect=("ipsec version", "ipsec trafficstatus", "cat /proc/net/xfrm_stat", "ip -s xfrm state",
                 "a packet capture at the time of the messages")),
    VendorProfile(
        "linux", "Linux kernel IPsec (XFRM)", None,
        Fact("the kernel drops unknown SPIs with an audit record, no rate-limited log", LINUX_XFRM_STAT),
        None, Fact("no kernel default: the keying daemon sets the window", None),
        Fact("the Linux kernel ignores ICMP errors quoting an SPI it does not know, without a log", LINUX_ESP4_ERR),
        "uname -r", "ip -s xfrm state",
        collect=("uname -r", "ip -s xfrm state", "cat /proc/net/xfrm_stat",
                 "a packet capture at the time of the messages")),
)}

UNKNOWN = VendorProfile(
    "unknown", "unknown vendor", None, Fact("not known", None), None, Fact("not known", None),
    Fact(NOTHING_KNOWN_ICMP, None), "the device's version command", "the device's SA table command",
    collect=("the device's version and SA table", "a packet capture at the time of the messages"))


def profile(vendor: str | None) -> VendorProfile:
    """The profile of an events-table ``vendor`` value (UNKNOWN for none or another)."""
    return PROFILES.get(str(vendor or "").lower(), UNKNOWN)


# ---------------------------------------------------------------- anti-replay (replay lines)

IOS_REPLAY_WINDOW = Source("IO2", "Cisco IOS XE 16 IPsec Anti-Replay Window: Expanding and Disabling, https://cisco.com/c/"
                                  "en/us/td/docs/ios-xml/ios/sec_conn_dplane/configuration/xe-16/sec-ipsec-data-plane-"
                                  "xe-16-book/sec-ipsec-antireplay.html")
IOS_REPLAY_RATE = Source("IO4", "Cisco community, https://community.cisco.com/t5/routing/crypto-4-pkt-replay-err-decrypt-"
                                "replay-check-failed/m-p/1566688 (a TAC engineer's answer)")
SRX_REPLAY_SAMPLES = Source("JX4",
                            "SRX configuration samples (anti-replay-window-size); no Juniper SRX reference found")
SRX_REPLAY_COUNTER = Source("JX2", "https://www.centricsit.com/fixit-anti-replay-error-for-the-vpn-tunnel-for-junipers-"
                                   "srx-line/")
SCREENOS_REPLAY_VPN = Source("SO6", "ScreenOS configuration samples (set vpn ... replay | no-replay tunnel ...)")
PANOS_REPLAY_UI = Source("PA2", "https://docs.paloaltonetworks.com/pan-os/10-1/pan-os-web-interface-help/network/"
                                "network-ipsec-tunnels/ipsec-tunnel-general-tab")
FORTI_REPLAY = Source("FO1", "https://community.fortinet.com/t5/FortiGate/Troubleshooting-Tip-Invalid-ESP-packet-"
                             "detected-replayed-packet/ta-p/352983")
LINUX_IP_XFRM = Source("LX5", "iproute2 man/man8/ip-xfrm.8 (replay-window SIZE)")
LINUX_DSCP = Source("LX6", "Linux commit a947b0a93efa (xfrm: allow to avoid copying DSCP)")

GENERIC_ACTIONS.update({
    "duplicated-path": "The network delivers some of the peer's ESP packets twice (a routing loop, a mirror port fed "
                       "back into the path, a duplicating link): find and fix the hop that copies them; the two "
                       "copies in the evidence tell a loop (lower TTL on the second copy) from a mirror (identical). "
                       "A larger replay window does not help: a copy is always dropped.",
    "reordered-beyond-window": "Packets are reordered on the way by more than the receiver's anti-replay window (QoS "
                               "queues, per-packet load balancing, several paths): keep the tunnel's packets on one "
                               "path and one queue, or raise the receiver's window to at least the window the "
                               "capture shows is needed.",
    "sequence-restart": "The peer began its sequence numbers again on the same SA (a failover without sequence "
                        "synchronisation, or a manually keyed SA re-added on one side only): every packet is dropped "
                        "until the SA is replaced. Renegotiate (or re-add) the SA on both sides together.",
    "replay-path-not-captured": "The capture saw these packets in order or not at all: the duplication or reordering "
                                "happens on a path this capture point does not see. Capture on the link into the "
                                "device that logged the lines (behind any load balancer, QoS device or second "
                                "uplink), at the time of the lines.",
})

# Per vendor, in its own commands (sourced; where the vendor documents no command, say so).
REPLAY_ACTIONS = {
    "ios": {
        "reordered-beyond-window": GENERIC_ACTIONS["reordered-beyond-window"] + " On IOS (default window 64, Cisco "
            "doc 116858): `crypto ipsec security-association replay window-size <N>` globally, or `set "
            "security-association replay window-size <N>` in the crypto map (Cisco, IPsec Anti-Replay Window: "
            "Expanding and Disabling). `show crypto ipsec sa detail` counts every drop; the log line is rate-limited "
            "(1 per minute, per a Cisco TAC answer).",
        "duplicated-path": GENERIC_ACTIONS["duplicated-path"] + " `show crypto ipsec sa detail` counts every drop.",
    },
    "junos": {
        "reordered-beyond-window": GENERIC_ACTIONS["reordered-beyond-window"] + " On SRX (window 64 or 32 by "
            "platform, DISA STIG): `set security ipsec vpn <vpn> ike anti-replay-window-size <n>` (seen in SRX "
            "configuration samples; no Juniper reference page was found). `show security ipsec statistics` shows "
            "the Replay errors counter.",
        "duplicated-path": GENERIC_ACTIONS["duplicated-path"] + " `show security ipsec statistics` shows the Replay "
            "errors counter.",
    },
    "asa": {
        "reordered-beyond-window": GENERIC_ACTIONS["reordered-beyond-window"] + " No ASA document found gives the "
            "default window or a command to change it: fix the reordering on the path. `show crypto ipsec sa` counts "
            "the drops (#pkts replay failed (rcv)); 402119 is logged at most once every 5 s.",
        "duplicated-path": GENERIC_ACTIONS["duplicated-path"] + " `show crypto ipsec sa` counts the drops (#pkts "
            "replay failed (rcv)); 402119 is logged at most once every 5 s.",
    },
    "screenos": {
        "reordered-beyond-window": GENERIC_ACTIONS["reordered-beyond-window"] + " ScreenOS documents no window-size "
            "setting: replay checking is only on or off per VPN (`set vpn \"<name>\" gateway \"<gw>\" replay` or "
            "`no-replay`, configuration samples); turning it off removes the protection, so fix the reordering on "
            "the path.",
    },
    "strongswan": {
        "reordered-beyond-window": GENERIC_ACTIONS["reordered-beyond-window"] + " strongSwan: raise "
            "`children.<child>.replay_window` in swanctl.conf (default 32; larger values need the kernel-netlink "
            "backend; swanctl.opt). The kernel counts the drops as XfrmInStateSeqError in /proc/net/xfrm_stat.",
        "duplicated-path": GENERIC_ACTIONS["duplicated-path"] + " The kernel counts the drops as XfrmInStateSeqError "
            "in /proc/net/xfrm_stat.",
    },
    "libreswan": {
        "reordered-beyond-window": GENERIC_ACTIONS["reordered-beyond-window"] + " libreswan: `replay-window=<N>` in "
            "the conn (default 128). The kernel counts the drops as XfrmInStateSeqError in /proc/net/xfrm_stat.",
    },
    "linux": {
        "reordered-beyond-window": GENERIC_ACTIONS["reordered-beyond-window"] + " Linux: the window is the state's "
            "`replay-window SIZE` (`ip xfrm state`, set by the keying daemon); copying the inner DSCP to the outer "
            "header can reorder ESP, which the state's dont-encap-dscp extra flag avoids (Linux commit a947b0a93efa).",
    },
    "panos": {
        "reordered-beyond-window": GENERIC_ACTIONS["reordered-beyond-window"] + " PAN-OS 10.1 and later: Network > "
            "IPsec Tunnels > General > Show Advanced Options > Enable Replay Protection, window 64 to 4096 (default "
            "1024); up to 10.0 the window is fixed at 64 (Palo Alto KB).",
    },
    "fortios": {
        "reordered-beyond-window": GENERIC_ACTIONS["reordered-beyond-window"] + " FortiOS has no window-size "
            "setting (only `set replay enable|disable` per phase 2): fix the reordering on the path.",
    },
}


# Where each vendor's replay advice comes from (the JSON report lists them).
REPLAY_SOURCES = {
    "ios": (IOS_REPLAY, IOS_REPLAY_WINDOW, IOS_REPLAY_RATE),
    "junos": (SRX_STIG, SRX_REPLAY_SAMPLES, SRX_REPLAY_COUNTER),
    "asa": (ASA_402119, ASA_COUNTERS), "screenos": (SCREENOS_REPLAY_VPN,),
    "strongswan": (STRONGSWAN_REPLAY, STRONGSWAN_REKEY, LINUX_XFRM_STAT),
    "libreswan": (LIBRESWAN_REPLAY, LINUX_XFRM_STAT),
    "linux": (LINUX_IP_XFRM, LINUX_DSCP, LINUX_XFRM_STAT), "panos": (PANOS_REPLAY, PANOS_REPLAY_UI),
    "fortios": (FORTI_REPLAY,),
}
