"""Battery health (``battery_health``) and outage reports (``backup_event`` energy and SoC)."""
