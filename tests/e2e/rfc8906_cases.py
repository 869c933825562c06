"""The test cases of RFC 8906 section 8 ("Testing"), run with dig exactly as written there, plus
the checks of ISC's EDNS compliance tester (genreport) that apply to an unsigned authoritative
zone, expressed as the dig commands it documents. Shared by the loopback test (userspace server)
and the namespace test (XDP fast path): `check_all(dig_prefix, zone)` returns the failures."""

import re
import subprocess

# (name, dig options with $zone for the zone, expectations). Expectations:
#   status      the rcode dig prints
#   aa / tc     True: flag must be set, False: must not be
#   soa         True: an SOA for the zone in the answer section; False: answer section empty
#   opt         True: an OPT record in the reply; False: none
#   version     EDNS version of the reply's OPT
#   absent      EDNS option/flag texts that must not appear in the OPT pseudo-section
#   do          True: DO set in the reply's OPT
CASES = [
    # RFC 8906 8.1.1 Is the server configured for the zone?
    ("8.1.1 plain DNS", "+noedns +noad +norec soa $zone",
     dict(status="NOERROR", aa=True, rd=False, soa=True, opt=False)),
    # 8.1.2 Testing unknown types
    ("8.1.2 unknown type", "+noedns +noad +norec type1000 $zone",
     dict(status="NOERROR", aa=True, rd=False, soa=False, opt=False)),
    # 8.2.1 Testing minimal EDNS
    ("8.2.1 minimal EDNS", "+nocookie +edns=0 +noad +norec soa $zone",
     dict(status="NOERROR", aa=True, rd=False, soa=True, opt=True, version=0)),
    # 8.2.2 EDNS version negotiation
    ("8.2.2 EDNS version 1", "+nocookie +edns=1 +noednsneg +noad +norec soa $zone",
     dict(status="BADVERS", aa=False, rd=False, soa=False, opt=True, version=0)),
    # 8.2.3 Unknown EDNS options
    ("8.2.3 unknown option", "+nocookie +edns=0 +noad +norec +ednsopt=100 soa $zone",
     dict(status="NOERROR", aa=True, rd=False, soa=True, opt=True, version=0, absent=["OPT=100"])),
    # 8.2.4 Unknown EDNS flags
    ("8.2.4 unknown flag", "+nocookie +edns=0 +noad +norec +ednsflags=0x40 soa $zone",
     dict(status="NOERROR", aa=True, rd=False, soa=True, opt=True, version=0, absent=["MBZ"])),
    # 8.2.5 Version negotiation with unknown flags
    ("8.2.5 version 1 + unknown flag",
     "+nocookie +edns=1 +noednsneg +noad +norec +ednsflags=0x40 soa $zone",
     dict(status="BADVERS", aa=False, rd=False, soa=False, opt=True, version=0, absent=["MBZ"])),
    # 8.2.6 Version negotiation with unknown options
    ("8.2.6 version 1 + unknown option",
     "+nocookie +edns=1 +noednsneg +noad +norec +ednsopt=100 soa $zone",
     dict(status="BADVERS", aa=False, rd=False, soa=False, opt=True, version=0,
          absent=["OPT=100"])),
    # 8.2.7 Truncated responses (the zone is unsigned: NODATA for DNSKEY fits in 512)
    ("8.2.7 truncation", "+norec +dnssec +bufsize=512 +ignore dnskey $zone",
     dict(status="NOERROR", aa=True, rd=False, opt=True, version=0)),
    # 8.2.8 DO=1 handling
    ("8.2.8 DO=1", "+norec +dnssec soa $zone",
     dict(status="NOERROR", aa=True, soa=True, opt=True, version=0, do=True)),
    # 8.2.9 Version negotiation with DO=1
    ("8.2.9 version 1 + DO=1", "+norec +dnssec +noednsneg +edns=1 soa $zone",
     dict(status="BADVERS", aa=False, soa=False, opt=True, version=0, do=True)),
    # 8.2.10 Multiple defined EDNS options
    ("8.2.10 several options",
     "+edns=0 +noad +norec +cookie +nsid +expire +subnet=0.0.0.0/0 soa $zone",
     dict(status="NOERROR", aa=True, rd=False, soa=True, opt=True, version=0, absent=["EXPIRE"])),
    # genreport: zflag (the header's Z bit must not be reflected), ednstcp, edns@512, optlist.
    ("genreport zflag", "+noedns +norec +zflag soa $zone",
     dict(status="NOERROR", aa=True, soa=True, opt=False, z=False)),
    ("genreport ednstcp", "+tcp +nocookie +edns=0 +noad +norec soa $zone",
     dict(status="NOERROR", aa=True, soa=True, opt=True, version=0)),
    ("genreport edns@512", "+norec +edns=0 +dnssec +bufsize=512 +ignore soa $zone",
     dict(status="NOERROR", aa=True, soa=True, opt=True, version=0, do=True)),
    ("genreport ednsflags 0x80", "+norec +edns=0 +ednsflags=0x80 soa $zone",
     dict(status="NOERROR", aa=True, soa=True, opt=True, version=0, absent=["MBZ"])),
    ("genreport type666", "+norec +noedns type666 $zone",
     dict(status="NOERROR", aa=True, soa=False, opt=False)),
]


def parse(text):
    """The parts of dig's output the expectations look at."""
    out = {"status": None, "flags": set(), "answer": [], "opt_lines": [], "version": None,
           "edns_flags": set(), "opt": False, "z": False}
    section = None
    for line in text.splitlines():
        m = re.search(r"status: ([A-Z]+)", line)
        if m:
            out["status"] = m.group(1)
        m = re.match(r";; flags:([^;]*);", line)
        if m:
            out["flags"] = set(m.group(1).split())
            out["z"] = "MBZ:" in line  # dig prints "; MBZ: 0x..." there for the header's Z bit
        m = re.match(r"; EDNS: version: (\d+), flags:([^;]*);", line)
        if m:
            out["opt"] = True
            out["version"] = int(m.group(1))
            out["edns_flags"] = set(m.group(1 + 1).split())
            if "MBZ" in line:
                out["opt_lines"].append(line)
            continue
        if line.startswith(";; OPT PSEUDOSECTION"):
            section = "opt"
            continue
        m = re.match(r";; ([A-Z]+) SECTION:", line)
        if m:
            section = m.group(1).lower()
            continue
        if not line.strip():
            if section != "opt":
                section = None
            continue
        if section == "opt" and line.startswith("; "):
            out["opt_lines"].append(line)
        elif section == "answer" and not line.startswith(";"):
            out["answer"].append(line.split())
    return out


def check(parsed, expect, zone):
    """The list of expectation failures for one reply."""
    bad = []
    if parsed["status"] != expect["status"]:
        bad.append(f"status {parsed['status']}, expected {expect['status']}")
    for flag in ("aa", "rd", "tc"):
        if flag in expect and (flag in parsed["flags"]) != expect[flag]:
            bad.append(f"flag {flag} {'missing' if expect[flag] else 'set'}")
    if "soa" in expect:
        soas = [rr for rr in parsed["answer"] if len(rr) > 3 and rr[3] == "SOA"
                and rr[0].lower() == zone.lower()]
        if expect["soa"] and not soas:
            bad.append("no SOA in the answer section")
        if not expect["soa"] and parsed["answer"]:
            bad.append(f"answer section not empty: {parsed['answer']}")
    if "opt" in expect and parsed["opt"] != expect["opt"]:
        bad.append(f"OPT {'missing' if expect['opt'] else 'present'}")
    if "version" in expect and parsed["version"] != expect["version"]:
        bad.append(f"EDNS version {parsed['version']}, expected {expect['version']}")
    if "do" in expect and ("do" in parsed["edns_flags"]) != expect["do"]:
        bad.append(f"DO {'missing' if expect['do'] else 'set'}")
    for text in expect.get("absent", []):
        if any(text in line for line in parsed["opt_lines"]):
            bad.append(f"{text} present in the OPT record")
    if "z" in expect and parsed["z"] != expect["z"]:
        bad.append("header Z bit reflected")
    return bad


def check_all(dig_prefix, zone, timeout=20):
    """Runs every case with `dig_prefix` (a list: e.g. ["dig", "@127.0.0.1", "-p", "5300"]) and
    returns (failures, outputs): failures maps a case name to its problems."""
    failures, outputs = {}, {}
    for name, options, expect in CASES:
        args = dig_prefix + ["+time=2", "+tries=1"] + options.replace("$zone", zone).split()
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        outputs[name] = proc.stdout + proc.stderr
        parsed = parse(proc.stdout)
        problems = check(parsed, expect, zone) if proc.returncode == 0 else [
            f"dig exited {proc.returncode}"]
        if problems:
            failures[name] = problems
    return failures, outputs
