"""``tesla-energy sites``: the energy sites the token can see."""

from __future__ import annotations

import argparse

from collector.commands.common import settings_from


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("sites", help="list the energy sites the token can see",
                            description="List the energy sites (not vehicles) from /products.")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from collector.source import build_client

    settings = settings_from(args)
    with build_client(settings) as client:
        visible = client.products()
    shard = settings.collector.shard
    sites = [site for site in visible if shard.owns(int(site["energy_site_id"]))]
    if shard.sharded:
        print(f"shard {shard.label}: {len(sites)} of the {len(visible)} energy sites "
              "visible to this token")
    if not sites:
        print("no energy sites visible to this token" if not visible else
              "no energy site falls in this shard")
        return 0
    print(f"{'energy_site_id':>16}  {'type':8}  {'battery %':>9}  name")
    for site in sites:
        pct = site.get("percentage_charged")
        pct_text = f"{float(pct):9.1f}" if isinstance(pct, int | float) else f"{'-':>9}"
        print(f"{site['energy_site_id']:>16}  {str(site.get('resource_type', '-')):8}  "
              f"{pct_text}  {site.get('site_name') or '-'}")
    return 0
