"""The twin sections of the report are written from the numbers and say plainly when a target is missed."""

from __future__ import annotations

from typing import Any

from promptloop.evaluation.report import twin_fingerprint
from promptloop.evaluation.report_twins import twin_markdown, twin_summary

_STUDY = {"twins": 10, "personalised_twins": 2, "sessions_per_twin": 3, "segments": 10, "segment_seconds": 5.0,
          "readings_per_segment": 3, "first_seed": 100000}


def _session(zone: float, dist: float, ttz: float = 50.0) -> dict[str, Any]:
    return {"zone_seconds": zone, "final_distance": dist, "time_to_zone": ttz, "decisions": ["follow"]}


def _study(closed_better: int) -> dict[str, Any]:
    paired = [{"open": _session(1.0, 0.5), "closed": _session(5.0 + i, 0.3) if i < closed_better else _session(0.0, 0.6)}
              for i in range(10)]
    series = [{"sessions": [{"session": k, "fresh": _session(0, 0, 40.0 + i), "personalised": _session(0, 0, 30.0 + i)}
                            for k in (1, 2, 3)]} for i in range(2)]
    return {"study": _STUDY, "paired": paired, "series": series}


def test_a_met_target_is_reported_as_met() -> None:
    study = _study(10)
    text = "\n".join(twin_markdown(study, twin_summary(study)))
    assert "on time in zone: met; on final distance: met" in text
    assert "closed better for 10 of 10 twins (100%)" in text


def test_a_missed_target_says_missed() -> None:
    study = _study(7)
    summary = twin_summary(study)
    assert summary["closed_vs_open"]["zone_seconds"]["share_better"] == 0.7
    text = "\n".join(twin_markdown(study, summary))
    assert "on time in zone: **missed**" in text
    assert "| 3 | 40.5 ± 6.4 | 30.5 ± 6.4 |" in text


def test_audio_violations_in_twin_sessions_are_counted_and_judged() -> None:
    clean = _study(10)
    assert "constraint violations over all 32 twin sessions" in "\n".join(twin_markdown(clean, twin_summary(clean)))
    assert "target 0): none — met" in "\n".join(twin_markdown(clean, twin_summary(clean)))
    dirty = _study(10)
    dirty["paired"][3]["closed"]["violations"] = ["avoided-percussion", "loudness"]
    dirty["series"][1]["sessions"][2]["fresh"]["violations"] = ["loudness"]
    text = "\n".join(twin_markdown(dirty, twin_summary(dirty)))
    assert "avoided-percussion 1, loudness 2 — **missed**" in text



def test_the_closed_loops_decisions_are_counted_by_kind_and_self_reports_are_said() -> None:
    study = _study(10)
    study["paired"][0]["closed"]["decisions"] = ["self-report: v +0.25, a -0.50", "probe: leave out piano",
                                                 "self-report: v -0.75, a +0.00", "back off"]
    plain = "\n".join(twin_markdown(study, twin_summary(study)))
    assert "back off 1, follow 9, probe 1, self-report 2." in plain
    assert "SAM rating" not in plain
    study["study"] = {**_STUDY, "self_report_every": 4}
    asked = "\n".join(twin_markdown(study, twin_summary(study)))
    assert "asking the twin how they feel (a SAM rating) after every 4 segments" in asked


def test_the_twin_fingerprint_moves_with_any_twin_number_and_not_with_wall_time() -> None:
    study = _study(8)
    timed = {**study, "wall_seconds": 1529.0, "summary": twin_summary(study)}
    assert twin_fingerprint(timed) == twin_fingerprint({**study, "wall_seconds": 12.0})
    changed = _study(8)
    changed["paired"][5]["closed"]["final_distance"] = 0.31  # one twin, one number
    assert twin_fingerprint(changed) != twin_fingerprint(study)
    resettled = _study(8)
    resettled["study"] = {**_STUDY, "segments": 16}
    assert twin_fingerprint(resettled) != twin_fingerprint(study)


def test_the_final_distance_is_split_by_axis_and_each_loss_is_put_on_its_axis() -> None:
    # anxious -> calm: the target is (0.4, -0.6); sessions of 10 x 5 s end at t = 50
    def arm(valence: float, arousal: float) -> dict[str, Any]:
        dist = ((valence - 0.4) ** 2 + (arousal + 0.6) ** 2) ** 0.5
        return {**_session(1.0, round(dist, 4)), "timeline": [[0.0, -0.6, 0.7], [50.0, valence, arousal]]}

    ends = [((0.4, -0.6), (0.2, -0.3)),  # closed on the target: a win
            ((0.0, -0.6), (0.3, -0.6)),  # closed short in valence: a loss on valence
            ((0.1, -0.55), (0.35, -0.5)),  # a loss on valence, though arousal is a little off too
            ((0.4, -0.2), (0.4, -0.5))]  # closed short in arousal: a loss on arousal
    study = _study(10)
    study["paired"] = [{"pair": ["anxious", "calm"], "closed": arm(*c), "open": arm(*o)} for c, o in ends]
    axes = twin_summary(study)["closed_vs_open"]["final_axes"]
    assert axes["losses"] == {"valence": 2, "arousal": 1}
    assert axes["valence"]["better"] == 1 and axes["arousal"]["better"] == 2  # twin 3 ties on valence
    assert abs(axes["valence"]["a_mean"] - (0.0 + 0.4 + 0.3 + 0.0) / 4) < 1e-9
    text = "\n".join(twin_markdown(study, twin_summary(study)))
    assert "Of the 3 twins the closed loop left further from the target, most of the difference is valence for 2" in text
    # a study without timelines (or one that does not reach the end) says nothing per axis
    assert twin_summary(_study(7))["closed_vs_open"]["final_axes"] == {}
    study["paired"][0]["open"]["timeline"] = [[0.0, -0.6, 0.7], [45.0, 0.2, -0.3]]
    assert "per axis" not in "\n".join(twin_markdown(study, twin_summary(study)))
