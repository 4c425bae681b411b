"""The bank file of a payout batch: an ISO 20022 customer credit transfer initiation,
``pain.001.001.03`` (docs/adr/0027-ledger-fees-bank-details-payout-file.md;
source: ISO 20022 message catalogue, "Payments Initiation", message definition
pain.001.001.03, https://www.iso20022.org/catalogue-messages — the version that the
Common Global Implementation (CGI-MP) guide and the bank-to-corporate channels of
Chinese banks accept for batch transfers).

One ``PmtInf`` block per batch: the debtor is the county's cash account (its confirmed
bank details when the batch was made), one ``CdtTrfTxInf`` per payee with its
confirmed holder name, bank and account number and the amount in yuan with two decimals
(``InstdAmt Ccy="CNY"``). Control totals (``NbOfTxs``, ``CtrlSum``) in the group header
and the payment block. Never pays twice: ``MsgId`` is the batch id (banks refuse a
message id they have seen), every ``EndToEndId`` is the batch id and the line number,
the money left the payees' accounts when the batch was made, and a batch that is no
longer ``exported`` (paid, or failed and given back) gets no file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

from django.utils.translation import gettext

from cunzhan.core.errors import ApplicationError, Conflict
from cunzhan.ledger.bank_details import bank_number
from cunzhan.ledger.models import PayoutBatch, PayoutStatus

NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
CHINA = ZoneInfo("Asia/Shanghai")
MAX_NAME = 140  # Max140Text


def yuan(fen: int) -> str:
    """Fen as the format's decimal amount: yuan with two decimals."""
    return f"{fen // 100}.{fen % 100:02d}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrib)
    if text is not None:
        el.text = text
    return el


def _account(parent: ET.Element, tag: str, number: str, currency: bool = False) -> None:
    acct = _sub(parent, tag)
    _sub(_sub(_sub(acct, "Id"), "Othr"), "Id", number)
    if currency:
        _sub(acct, "Ccy", "CNY")


def _agent(parent: ET.Element, tag: str, bank: str) -> None:
    _sub(_sub(_sub(parent, tag), "FinInstnId"), "Nm", bank[:MAX_NAME])


def payout_batch_pain001(*, batch: PayoutBatch) -> bytes:
    """The batch's pain.001.001.03 XML (UTF-8). The same batch gives the same bytes."""
    if batch.status != PayoutStatus.EXPORTED:
        raise Conflict(
            gettext("该付款批次已是“%(s)s”状态，不再生成银行付款文件，以免重复付款")
            % {"s": batch.get_status_display()},
            code="wrong_state",
        )
    lines = list(batch.lines.select_related("account", "bank_details").order_by("id"))
    debtor = batch.debtor_details
    if debtor is None or any(ln.bank_details is None for ln in lines):
        raise Conflict(
            gettext("该付款批次生成时缺少经确认的银行账户，无法生成银行付款文件"),
            code="no_bank_details",
        )
    total = sum(ln.amount_fen for ln in lines)
    if total != batch.total_fen or len(lines) != batch.line_count:  # pragma: no cover
        raise ApplicationError("batch totals disagree with its lines", code="batch_mismatch")
    made = batch.created_at.astimezone(CHINA).replace(microsecond=0)
    msg_id = batch.uuid.hex

    root = ET.Element("Document", {"xmlns": NS})
    init = _sub(root, "CstmrCdtTrfInitn")
    hdr = _sub(init, "GrpHdr")
    _sub(hdr, "MsgId", msg_id)
    _sub(hdr, "CreDtTm", made.strftime("%Y-%m-%dT%H:%M:%S"))
    _sub(hdr, "NbOfTxs", str(len(lines)))
    _sub(hdr, "CtrlSum", yuan(total))
    _sub(_sub(hdr, "InitgPty"), "Nm", debtor.holder_name[:MAX_NAME])

    pmt = _sub(init, "PmtInf")
    _sub(pmt, "PmtInfId", f"{msg_id[:30]}-P1")
    _sub(pmt, "PmtMtd", "TRF")
    _sub(pmt, "BtchBookg", "true")
    _sub(pmt, "NbOfTxs", str(len(lines)))
    _sub(pmt, "CtrlSum", yuan(total))
    _sub(pmt, "ReqdExctnDt", made.date().isoformat())
    _sub(_sub(pmt, "Dbtr"), "Nm", debtor.holder_name[:MAX_NAME])
    _account(pmt, "DbtrAcct", bank_number(debtor), currency=True)
    _agent(pmt, "DbtrAgt", debtor.bank_name)
    _sub(pmt, "ChrgBr", "DEBT")
    for i, ln in enumerate(lines, start=1):
        d = ln.bank_details
        assert d is not None
        tx = _sub(pmt, "CdtTrfTxInf")
        pid = _sub(tx, "PmtId")
        _sub(pid, "InstrId", f"{i:05d}")
        _sub(pid, "EndToEndId", f"{msg_id[:24]}-{i:05d}")
        _sub(_sub(tx, "Amt"), "InstdAmt", yuan(ln.amount_fen), Ccy="CNY")
        _agent(tx, "CdtrAgt", d.bank_name)
        _sub(_sub(tx, "Cdtr"), "Nm", d.holder_name[:MAX_NAME])
        _account(tx, "CdtrAcct", bank_number(d))
        _sub(_sub(tx, "RmtInf"), "Ustrd", f"cunzhan {ln.account.get_kind_display()} {msg_id[:8]}")
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
