"""Meter values outside transactions, shared by both OCPP adapters (MeterMixin of
firmware.ocpp.base): sampled while the relay is closed, clock-aligned per connector;
transaction samples go through the journal instead (firmware.ocpp.txbase)."""
import time


class MeterMixin:
    async def _send_meter_values(self):
        s = self.settings
        now = time.ticks_ms()
        iv = self.sample_interval()
        if iv:
            for e in self.station.evses:
                if self.tx(e.id) is not None:
                    continue                    # sampled into the transaction queue
                if e.relay_on or e.state == 4:
                    if time.ticks_diff(now, self._t_sample[e.id]) >= iv * 1000:
                        self._t_sample[e.id] = now
                        await self.send("MeterValues", self.meter_payload(
                            e.id, "Sample.Periodic", self.sampled_measurands()))
                else:
                    self._t_sample[e.id] = now - iv * 1000     # first sample at once
        ia = self.aligned_interval()
        if ia:
            slot = self.clock.now() // ia
            if self._t_aligned is None:
                self._t_aligned = slot
            elif slot != self._t_aligned:
                self._t_aligned = slot
                if s.get("AlignedDataSendDuringIdle") and \
                        any(self.tx(e.id) is not None for e in self.station.evses):
                    return                      # 2.0.1 J01: idle only (TC_J_06)
                for k in range(0, self._n + 1):
                    if k and self.tx(k) is not None:
                        continue                # queued with the transaction (_tx_task)
                    await self.send("MeterValues", self.meter_payload(
                        k, "Sample.Clock", s.measurands("MeterValuesAlignedData")))

    def aligned_interval(self):
        return self.settings.get("ClockAlignedDataInterval")

    def sample_interval(self):
        return self.settings.get("MeterValueSampleInterval")

    def sampled_measurands(self):
        return self.settings.measurands("MeterValuesSampledData")

    def values(self, k, measurands):
        """(measurand, phase, value, unit) for connector k (0 = main meter)."""
        out = []
        if k == 0:
            es = self.station.evses
            wh = sum(e.energy_wh for e in es)
            w = sum(e.power_w for e in es)
            volts, amps = (es[0].volts, [sum(e.amps[p] for e in es) for p in range(3)]) if es else ((0, 0, 0), (0, 0, 0))
            offered = sum(e.offer_a for e in es)
        else:
            e = self.station.evse(k)
            wh, w, volts, amps, offered = e.energy_wh, e.power_w, e.volts, e.amps, e.offer_a
        for m in measurands:
            if m == "Energy.Active.Import.Register":
                out.append((m, None, wh, "Wh"))
            elif m == "Power.Active.Import":
                out.append((m, None, w, "W"))
            elif m == "Current.Import":
                for p in range(3):
                    out.append((m, "L%d" % (p + 1), amps[p], "A"))
            elif m == "Voltage":
                for p in range(3):
                    out.append((m, "L%d-N" % (p + 1), volts[p], "V"))
            elif m == "Current.Offered":
                out.append((m, None, offered, "A"))
        return out
