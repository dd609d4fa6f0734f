"""The station's state that must survive a reboot (/flash/state.json): availability, the
boot reason, the running transactions, connection profiles; dict-like, saved whole."""
import store


class Persist:
    """Small station state that must survive a reboot (availability, boot reason), kept
    in one JSON file written atomically. A damaged file falls back to empty and is
    reported."""

    def __init__(self, path):
        self.path = path
        self._d = {}
        self.damaged = False

    def load(self):
        data, ok = store.load_json(self.path, {})
        self._d = data if isinstance(data, dict) else {}
        self.damaged = not ok or not isinstance(data, dict)
        if self.damaged:
            from firmware import log
            log.error("persist", "%s damaged: defaults used", self.path)
        return not self.damaged

    def get(self, key, default=None):
        return self._d.get(key, default)

    def __getitem__(self, key):
        return self._d[key]

    def __setitem__(self, key, value):
        self._d[key] = value

    def save(self):
        store.save_json(self.path, self._d)
