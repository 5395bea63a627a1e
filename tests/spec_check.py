#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The YAML spec and the UAPI header describe one protocol: check that every
command and attribute has the same name and number in both.  Prints TAP."""
import re
import sys

import yaml

top = sys.argv[1] if len(sys.argv) > 1 else "."
spec = yaml.safe_load(open(f"{top}/kmod/hyperbox.yaml"))
header = open(f"{top}/kmod/uapi/linux/hyperbox.h").read()


def c_enum(name, prefix):
    """Names of enum NAME's entries in order, less its PREFIX_MAX marker."""
    body = re.search(r"enum %s \{(.*?)\};" % name, header, re.S).group(1)
    names = []
    for line in body.splitlines():
        m = re.match(r"\s*(HBX_\w+?)(\s*=\s*\d+)?,", line)
        if m and m.group(1) != prefix + "MAX":
            names.append(m.group(1))
    return names


def yaml_names(entries):
    return [e["name"] for e in entries]


checks = [
    ("commands", c_enum("hbx_cmd", "HBX_CMD_"), "HBX_CMD_",
     yaml_names(spec["operations"]["list"])),
]
for aset, cname, prefix in (("info", "hbx_info_attr", "HBX_A_INFO_"),
                            ("layer", "hbx_layer_attr", "HBX_A_LAYER_"),
                            ("peer", "hbx_peer_attr", "HBX_A_PEER_")):
    attrs = next(a for a in spec["attribute-sets"] if a["name"] == aset)
    checks.append((f"{aset} attributes", c_enum(cname, prefix), prefix,
                   yaml_names(attrs["attributes"])))

print("TAP version 13")
failed = 0
for n, (what, c_names, prefix, y_names) in enumerate(checks, 1):
    c = [x[len(prefix):].lower().replace("_", "-") for x in c_names]
    ok = c == y_names
    print(f"{'ok' if ok else 'not ok'} {n} spec.{what.replace(' ', '_')}_match_the_uapi_header")
    if not ok:
        failed += 1
        print(f"# header: {c}\n# yaml:   {y_names}")
print(f"1..{len(checks)}")
sys.exit(1 if failed else 0)
