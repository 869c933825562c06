#!/usr/bin/env python3
"""The ABI's constants are spelled once, in maps/: fails when code outside maps/ writes one of them
as a number (the negative walk's depth, the DNS codes the XDP program knows, the name size
classes, the prefix-key table bytes, the IPv4-mapped prefix). Comments and string literals are
not code and are not read. Usage: abi_literals_test.py SOURCE_DIR"""
import pathlib
import re
import sys

BPF = ("bpf",)
SHARED_USERS = ("bpf", "userspace/fastpath", "userspace/policy", "tools/inspect")
NAME_KEY_USERS = ("bpf", "userspace/fastpath", "tools/inspect")  # policy/ has address lengths

# (what, directories, pattern): each pattern matches a number where a maps/ constant belongs.
RULES = [
    ("negative walk depth (MDN_NEG_WALK_STEPS)", SHARED_USERS,
     r"\bbpf_loop\(\s*\d+\s*,\s*neg_|\bstep\s*<=?\s*\d|#\s*define\s+\w*WALK_STEPS\b"),
    ("OPT type (MDN_QTYPE_OPT)", SHARED_USERS, r"(?<![\w.])41(?![\w.])"),
    ("meta query types (MDN_QTYPE_META_FIRST/LAST)", SHARED_USERS,
     r"\bqtype\s*(<|<=|>|>=)\s*(127|128|255|256)\b"),
    ("EDNS option code (MDN_OPT_*)", BPF, r"\b(code|opt_code|option)\s*[!=]=\s*\d"),
    ("ECS option code written (MDN_OPT_ECS)", BPF, r"\boput\([^;]*,\s*8\s*\)"),
    ("name size class (mdn_name_class, MDN_NAME_CLASS*)", NAME_KEY_USERS,
     r"\b\w*len\w*\s*(<|<=|>|>=)\s*(32|64|128|256)\b|^.*class.*(?<![\w.])(32|64|128|256)(?![\w.])"),
    ("prefix-key table bytes (mdn_prefix_key_set_table/mdn_prefix_key_table)", SHARED_USERS,
     r"\.table\[\s*\d\s*\]"),
    ("IPv4-mapped IPv6 prefix (mdn_ipv4_mapped)", SHARED_USERS, r"htonl\(\s*0x0*ffff\s*\)"),
    ("compression pointer bits (MDN_DNS_POINTER)", SHARED_USERS, r"0xc000\b"),
]

SOURCE_SUFFIXES = {".c", ".h", ".cc"}


def code_only(text):
    """The text with comments and string/char literals blanked, line structure kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def violations(root):
    found = []
    for what, dirs, pattern in RULES:
        rx = re.compile(pattern)
        for d in dirs:
            for path in sorted((root / d).rglob("*")):
                if path.suffix not in SOURCE_SUFFIXES or not path.is_file():
                    continue
                lines = code_only(path.read_text(errors="replace")).split("\n")
                for number, line in enumerate(lines, 1):
                    if rx.search(line):
                        found.append(f"{path.relative_to(root)}:{number}: {what}: {line.strip()}")
    return found


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    found = violations(root)
    for v in found:
        print(v)
    if found:
        print(f"abi_literals: {len(found)} ABI constant(s) spelled as literals outside maps/")
        return 1
    print(f"abi_literals: {len(RULES)} rules, no ABI literal outside maps/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
