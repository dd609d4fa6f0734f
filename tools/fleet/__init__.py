"""tools/fleet: many simulated stations, each the real firmware on the unix port with its
own flash image, against any CSMS URL (docs/fleet.md)."""
