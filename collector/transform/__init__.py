"""Transform stage: pure functions from decoded Fleet API JSON to measurement frames, and the
line-protocol serializer.

Must not do I/O (apart from a warning log line for malformed records), and must not import
httpx or influxdb_client. The InfluxDB schema lives in ``fields``; everything that leaves the
process as line protocol goes through ``to_line_protocol``.
"""

from collector.transform.fields import (
    SCHEMAS,
    Field,
    ImplausibleRecord,
    Kind,
    MalformedRecord,
    Schema,
    TimeBounds,
)
from collector.transform.frame import Frame, build_frame, empty_frame
from collector.transform.history import (
    BACKUP_DURATION_UNITS_PER_SECOND,
    EnergyRows,
    backup_duration_seconds,
    backup_event_frame,
    calendar_history_frame,
    charge_session_frame,
    energy_history_frame,
    energy_history_lines,
    energy_history_rows,
    energy_rows_frame,
)
from collector.transform.lineprotocol import WRITE_PRECISION, row_line, to_line_protocol
from collector.transform.live import (
    LiveStatusFrames,
    LiveStatusRows,
    derived_powers,
    live_status_frames,
    live_status_lines,
    live_status_rows,
)
from collector.transform.metrics import SINK_ENDPOINT, collector_frame
from collector.transform.site_info import site_info_frame

__all__ = [
    "BACKUP_DURATION_UNITS_PER_SECOND",
    "SCHEMAS",
    "SINK_ENDPOINT",
    "WRITE_PRECISION",
    "Field",
    "Frame",
    "ImplausibleRecord",
    "Kind",
    "LiveStatusFrames",
    "LiveStatusRows",
    "MalformedRecord",
    "Schema",
    "TimeBounds",
    "backup_duration_seconds",
    "backup_event_frame",
    "build_frame",
    "calendar_history_frame",
    "charge_session_frame",
    "collector_frame",
    "derived_powers",
    "empty_frame",
    "EnergyRows",
    "energy_history_frame",
    "energy_history_lines",
    "energy_history_rows",
    "energy_rows_frame",
    "live_status_frames",
    "live_status_lines",
    "live_status_rows",
    "site_info_frame",
    "row_line",
    "to_line_protocol",
]
