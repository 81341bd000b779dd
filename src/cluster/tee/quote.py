"""Step "quote": a TDX quote is genuine (Intel's DCAP chain, via dcap-qvl) and what it measures.

``verify_quote`` checks the quote's signature chain against the collateral (from a PCCS, or supplied offline)
at time ``now`` and returns the TCB status (``UpToDate``, ``OutOfDate``, …) with its advisories; ``fields``
reads the measured values (MRTD, RTMR0-3, MRCONFIGID, REPORTDATA) without judging them.
"""

from __future__ import annotations

from dataclasses import dataclass

import dcap_qvl

from cluster.tee.errors import VerificationFailed

#: TCB statuses accepted by default: anything else is reported and refused unless the policy allows it
ACCEPTED_STATUSES = frozenset({"UpToDate"})


@dataclass(frozen=True, slots=True)
class QuoteFields:
    mrtd: bytes
    rtmr: tuple[bytes, bytes, bytes, bytes]
    mr_config_id: bytes
    report_data: bytes


@dataclass(frozen=True, slots=True)
class QuoteVerdict:
    status: str
    advisory_ids: tuple[str, ...]


def fields(raw: bytes) -> QuoteFields:
    try:
        parsed = dcap_qvl.parse_quote(raw)
    except Exception as exc:  # the binding raises ValueError/RuntimeError for malformed input
        raise VerificationFailed("quote", f"not a quote: {exc}") from None
    if not parsed.is_tdx():
        raise VerificationFailed("quote", f"a {parsed.quote_type()} quote, not TDX")
    report = parsed.report
    return QuoteFields(
        mrtd=_bytes(report.mr_td),
        rtmr=(_bytes(report.rt_mr0), _bytes(report.rt_mr1), _bytes(report.rt_mr2), _bytes(report.rt_mr3)),
        mr_config_id=_bytes(report.mr_config_id),
        report_data=_bytes(report.report_data),
    )


def verify_quote(
    raw: bytes, collateral_json: str, now: int, accepted: frozenset[str] = ACCEPTED_STATUSES
) -> QuoteVerdict:
    try:
        collateral = dcap_qvl.QuoteCollateralV3.from_json(collateral_json)
        report = dcap_qvl.verify(raw, collateral, now)
    except Exception as exc:
        raise VerificationFailed("quote", f"DCAP verification failed: {exc}") from None
    verdict = QuoteVerdict(str(report.status), tuple(report.advisory_ids))
    if verdict.status not in accepted:
        advisories = ", ".join(verdict.advisory_ids) or "none listed"
        raise VerificationFailed("quote", f"TCB status {verdict.status} is not accepted (advisories: {advisories})")
    return verdict


def _bytes(value: bytes | str | list[int]) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value)
    return bytes(value)
