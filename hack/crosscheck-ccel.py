"""Replays a CCEL with the independent PyPI implementation pytdxmeasure and prints RTMR0..3 as JSON.

Usage: python hack/crosscheck-ccel.py <ccel_table.dat> <ccel_data.dat>

pytdxmeasure's TDEventLogActor reads the log from /sys/firmware/acpi/tables/data/CCEL; here its read step is pointed
at the given file instead (nothing else of the library is changed). The log base and length come from the CCEL ACPI
table, parsed by pytdxmeasure's own CCEL class.
"""
import json
import sys

from pytdxmeasure.actor import TDEventLogActor
from pytdxmeasure.ccel import CCEL


def main() -> None:
    table_path, data_path = sys.argv[1], sys.argv[2]
    with open(table_path, "rb") as table_file:
        ccel = CCEL(table_file.read())
    if not ccel.is_valid():
        raise SystemExit(f"{table_path} is not a valid CCEL ACPI table")
    actor = TDEventLogActor(ccel.log_area_start_address, ccel.log_area_minimum_length)
    with open(data_path, "rb") as data_file:
        data = data_file.read()
    actor._read = lambda ccel_file=None: setattr(actor, "_data", data) or data  # noqa: SLF001
    actor.replay()
    print(
        json.dumps(
            {
                "events": len(actor._event_logs),  # noqa: SLF001
                "rtmrs": [bytes(actor.get_rtmr_by_index(i).data).hex() for i in range(4)],
            }
        )
    )


main()
