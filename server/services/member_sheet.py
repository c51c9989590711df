"""Reading member spreadsheets (XLSX or CSV) safely: size, zip-bomb and encoding checks come first.

Cells are read as stored — formulas are kept as their text and never evaluated.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import load_workbook

from server.errors import Invalid

MAX_IMPORT_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
MAX_COLUMNS = 30
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 100  # real sheets compress ~10×; a zip bomb compresses thousands of times
MAX_ZIP_ENTRIES = 2_000

COLUMNS = {"姓名": "name", "手机号": "phone", "工号": "employee_no", "单位": "unit", "角色": "roles"}
REQUIRED = ("姓名", "手机号", "工号", "单位")
ALIASES = {"手机": "手机号", "手机号码": "手机号", "员工编号": "工号", "职工号": "工号", "所属单位": "单位",
           "名字": "姓名"}


@dataclass(frozen=True)
class SheetRow:
    number: int  # the row number people see in their spreadsheet (header = 1)
    values: dict[str, str]  # keyed by COLUMNS values


def sheet_error(message: str) -> Invalid:
    return Invalid(message, fields={"file": message})


def check_size(size: int) -> None:
    if size > MAX_IMPORT_BYTES:
        raise sheet_error(f"文件过大（{size / 1048576:.1f} MB），请不超过 {MAX_IMPORT_BYTES // 1048576} MB")
    if size == 0:
        raise sheet_error("文件是空的")


def check_zip(data: bytes) -> None:
    """Refuse archives that would expand to far more than they occupy, before anything decompresses."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise sheet_error("文件不是有效的 Excel（.xlsx）文件") from None
    if len(entries) > MAX_ZIP_ENTRIES:
        raise sheet_error("Excel 文件结构异常（内部文件过多）")
    total = sum(e.file_size for e in entries)
    # zipfile stops each member at its declared size, so the declared sizes bound what openpyxl can inflate.
    if total > MAX_UNCOMPRESSED_BYTES or total > MAX_RATIO * max(len(data), 1) + 10 * 1024 * 1024:
        raise sheet_error("Excel 文件解压后体积异常（疑似压缩炸弹），已拒绝")
    if any(e.flag_bits & 0x1 for e in entries):
        raise sheet_error("Excel 文件已加密，请另存为未加密的文件")


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = getattr(value, "text", None)  # openpyxl array/data-table formulas
    return str(text if isinstance(text, str) else value).strip()


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK, which Chinese Excel writes)."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise sheet_error("无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV，或直接上传 Excel 文件")


def _xlsx_rows(data: bytes) -> Iterator[tuple[object, ...]]:
    check_zip(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:
        raise sheet_error("无法读取该 Excel 文件，请确认是 .xlsx 格式") from None
    try:
        sheet = workbook.worksheets[0]
        yield from sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
    finally:
        workbook.close()


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    text = decode_csv(data)
    if "\x00" in text:
        raise sheet_error("CSV 文件内容异常（含有空字符）")
    dialect = csv.excel_tab if text.split("\n", 1)[0].count("\t") > text.split("\n", 1)[0].count(",") else csv.excel
    try:
        yield from csv.reader(io.StringIO(text), dialect)
    except csv.Error:
        raise sheet_error("CSV 文件格式错误") from None


def header_map(header: Iterable[object]) -> dict[int, str]:
    """Column index → field, refusing files without the required columns."""
    found: dict[int, str] = {}
    for index, raw in enumerate(header):
        name = cell_text(raw).replace("\ufeff", "").replace(" ", "").replace("\u3000", "").rstrip("*")
        name = ALIASES.get(name, name)
        if name in COLUMNS and COLUMNS[name] not in found.values():
            found[index] = COLUMNS[name]
    missing = [c for c in REQUIRED if COLUMNS[c] not in found.values()]
    if missing:
        raise sheet_error("表头缺少列：" + "、".join(missing) + "。第一行应为：姓名、手机号、工号、单位、角色")
    return found


def read_rows(data: bytes, filename: str) -> list[SheetRow]:
    """Every non-empty data row of the first sheet; raises Invalid for files that cannot be trusted."""
    check_size(len(data))
    lower = filename.lower()
    if lower.endswith(".xlsx") or data.startswith(b"PK\x03\x04"):
        if not data.startswith(b"PK\x03\x04"):
            raise sheet_error("文件不是有效的 Excel（.xlsx）文件")
        raw_rows: Iterator[Iterable[object]] = _xlsx_rows(data)
    elif lower.endswith((".csv", ".txt")):
        raw_rows = _csv_rows(data)
    else:
        raise sheet_error("只支持 .xlsx 或 .csv 文件")
    header = next(raw_rows, None)
    if header is None:
        raise sheet_error("文件是空的")
    columns = header_map(header)
    rows: list[SheetRow] = []
    for number, raw in enumerate(raw_rows, start=2):
        cells = list(raw)
        values = {field: cell_text(cells[i]) if i < len(cells) else "" for i, field in columns.items()}
        if not any(values.values()):
            continue
        if len(rows) >= MAX_ROWS:
            raise sheet_error(f"行数过多，一次最多导入 {MAX_ROWS} 行")
        rows.append(SheetRow(number, values))
    if not rows:
        raise sheet_error("文件中没有数据行")
    return rows
