"""The demo company's catalogue: what a Taipei trading company in industrial automation sells, and at what price.

Products and services with codes, names in English and Chinese, categories, makers, units, prices in NT$ and an
opening stock; the VAT they pay (an active tax of the CRM, else 營業稅 5 %); a dealer price list in NT$ and an
export price list in US$. Written through the bulk path (`crm_store.records.bulk`), like the rest of the demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.db.fast_insert import insert_rows, reserve_ids
from crm_store.models import Batch, Currency, PriceBookPrice, ProductTax, Tax
from crm_store.records import bulk
from crm_store.records.validation import Validator
from crm_store.settings import picklists

VAT_NAME, VAT_RATE = "營業稅", Decimal(5)  # Taiwan's business tax, made only when the CRM has no active tax
DEALER_SHARE = Decimal("0.85")  # the dealer price list: 15 % off the list price
EXPORT_MARKUP = Decimal("1.08")  # the export price list: the NT$ price in US$ at the company's rate, plus 8 %
MANUFACTURERS = ("Formosa Automation 福爾摩沙自動化", "Hsinchu Microsystems 新竹微系統", "Pacific Sensor Co.",
                 "Taichung Precision 台中精機", "Leadline Trading 自有品牌")


@dataclass(frozen=True)
class Item:
    """A product or service of the catalogue; `quantity` is how many a line usually orders (low, high)."""

    code: str
    name: str
    category: str
    maker: int | None  # an index of MANUFACTURERS
    unit: str
    price: int  # NT$, before tax
    stock: int | None  # the opening stock; None: a service
    reorder: int | None
    quantity: tuple[int, int]
    popularity: int
    specifications: tuple[tuple[str, str], ...] = ()

    @property
    def is_service(self) -> bool:
        """Whether this is a service (no stock)."""
        return self.stock is None


def _item(code: str, name: str, category: str, maker: int | None, unit: str, price: int, stock: int | None,
          reorder: int | None, low: int, high: int, popularity: int, *specs: tuple[str, str]) -> Item:
    return Item(code, name, category, maker, unit, price, stock, reorder, (low, high), popularity, specs)


CATALOGUE = (
    _item("IPC-5100", "Fanless industrial PC, Core i5 無風扇工業電腦", "Hardware", 1, "Each", 28_500, 60, 10, 1, 4, 6,
          ("CPU", "Intel Core i5"), ("Memory", "16 GB"), ("Operating temperature", "-20 to 60 °C")),
    _item("IPC-7200", "Rackmount industrial server 機架式工業伺服器", "Hardware", 1, "Each", 62_000, 20, 4, 1, 2, 2),
    _item("HMI-070", "7-inch HMI touch panel 7吋人機介面觸控螢幕", "Hardware", 0, "Each", 9_800, 120, 20, 1, 10, 8,
          ("Screen", "7 in, 800 × 480"), ("Protection", "IP65 front")),
    _item("HMI-101", "10.1-inch HMI touch panel 10.1吋人機介面", "Hardware", 0, "Each", 14_500, 80, 15, 1, 8, 6),
    _item("PLC-S32", "Compact PLC, 32 I/O 小型可程式控制器 32點", "Hardware", 0, "Each", 12_800, 150, 25, 1, 12, 9,
          ("Inputs / outputs", "16 DI / 16 DO"), ("Supply", "24 V DC")),
    _item("PLC-IO16", "PLC expansion module, 16 DI 擴充模組 16點數位輸入", "Hardware", 0, "Each", 3_200, 300, 50, 1, 20,
          8),
    _item("SW-ETH8", "Industrial Ethernet switch, 8-port 工業乙太網路交換器 8埠", "Hardware", 1, "Each", 6_900, 200,
          30, 1, 15, 9, ("Ports", "8 × RJ45 10/100"), ("Mounting", "DIN rail")),
    _item("SW-ETH16M", "Managed Ethernet switch, 16-port 網管型交換器 16埠", "Hardware", 1, "Each", 18_600, 60, 10, 1,
          6, 4),
    _item("GW-MQTT", "IoT gateway, Modbus to MQTT 物聯網閘道器", "Hardware", 1, "Each", 11_200, 90, 15, 1, 10, 5),
    _item("SEN-T100", "Temperature and humidity sensor 溫濕度感測器", "Hardware", 2, "Each", 1_450, 800, 100, 2, 40, 9),
    _item("SEN-P200", "Pressure transmitter, 0–10 bar 壓力傳送器", "Hardware", 2, "Each", 4_600, 250, 40, 1, 20, 6),
    _item("SEN-PX12", "Inductive proximity sensor, M12 電感式近接開關", "Hardware", 2, "Each", 380, 3_000, 400, 10,
          200, 10),
    _item("ENC-1024", "Rotary encoder, 1024 PPR 旋轉編碼器", "Hardware", 3, "Each", 2_750, 300, 40, 1, 20, 5),
    _item("MTR-S400", "AC servo motor, 400 W 交流伺服馬達", "Hardware", 3, "Each", 8_900, 160, 20, 1, 12, 6),
    _item("DRV-S400", "Servo drive, 400 W 伺服驅動器", "Hardware", 3, "Each", 10_500, 160, 20, 1, 12, 6),
    _item("INV-2K2", "Inverter, 2.2 kW 變頻器", "Hardware", 3, "Each", 7_600, 140, 20, 1, 10, 6),
    _item("PSU-24V5", "DIN-rail power supply, 24 V 5 A 軌道式電源供應器", "Hardware", 4, "Each", 1_280, 900, 120, 1,
          40, 9),
    _item("UPS-1K", "Online UPS, 1 kVA 在線式不斷電系統", "Hardware", 4, "Each", 15_800, 40, 8, 1, 4, 3),
    _item("CBL-ETH5", "Industrial Ethernet cable, 5 m 工業網路線 5米", "Hardware", 4, "Each", 260, 5_000, 500, 5, 100,
          9),
    _item("CBL-M12-2", "M12 sensor cable, 2 m M12 感測器線 2米", "Hardware", 2, "Each", 320, 4_000, 500, 5, 100, 8),
    _item("TRM-10", "Terminal blocks, pack of 10 端子台 10入", "Hardware", 4, "Pack", 180, 6_000, 800, 5, 150, 7),
    _item("RLY-24DC", "Relay module, 24 V DC 繼電器模組", "Hardware", 4, "Each", 240, 4_000, 500, 5, 120, 7),
    _item("CAM-MV5", "Machine-vision camera, 5 MP 機器視覺相機 500萬畫素", "Hardware", 1, "Each", 24_800, 50, 8, 1, 6,
          4, ("Sensor", "2/3 in global shutter"), ("Interface", "GigE Vision")),
    _item("LNS-16", "C-mount lens, 16 mm 工業鏡頭 16mm", "Hardware", 1, "Each", 5_600, 90, 10, 1, 6, 3),
    _item("LED-RING", "LED ring light 環形光源", "Hardware", 1, "Each", 3_900, 90, 10, 1, 6, 3),
    _item("BCR-2D", "2D barcode scanner 二維條碼掃描器", "Hardware", 2, "Each", 6_200, 150, 20, 1, 20, 5),
    _item("RFID-UHF", "UHF RFID reader UHF 讀取器", "Hardware", 2, "Each", 13_400, 60, 10, 1, 8, 3),
    _item("TAB-R10", "Rugged tablet, 10-inch 10吋強固型平板", "Hardware", 1, "Each", 32_000, 40, 6, 1, 10, 3),
    _item("PRN-LBL", "Industrial label printer 工業標籤印表機", "Hardware", 4, "Each", 21_500, 30, 5, 1, 3, 2),
    _item("LBL-ROLL", "Label rolls, box of 12 標籤紙 12卷", "Hardware", 4, "Box", 1_150, 600, 80, 2, 30, 5),
    _item("BRG-6204", "Ball bearings 6204, box of 10 滾珠軸承 10入", "Hardware", 3, "Box", 850, 1_200, 150, 2, 40, 6),
    _item("CNV-BELT", "Conveyor belt module, 1 m 輸送帶模組 1米", "Hardware", 3, "M", 18_900, 40, 6, 1, 12, 2),
    _item("PNU-VLV", "Pneumatic solenoid valve 氣動電磁閥", "Hardware", 3, "Each", 1_680, 700, 80, 2, 40, 6),
    _item("PNU-CYL", "Pneumatic cylinder, 32 × 100 氣壓缸", "Hardware", 3, "Each", 1_350, 700, 80, 2, 40, 5),
    _item("ENC-BOX", "Stainless enclosure, 400 × 300 不鏽鋼控制箱", "Hardware", 4, "Each", 4_800, 80, 10, 1, 6, 3),
    _item("LIC-SCADA", "SCADA software licence 監控軟體授權", "Software", 1, "Each", 45_000, None, None, 1, 2, 2),
    _item("LIC-MES", "MES module, one user 製造執行系統 使用者授權", "Software", 1, "Each", 12_000, None, None, 5, 30,
          2),
    _item("LIC-VIS", "Vision inspection software 視覺檢測軟體", "Software", 1, "Each", 36_000, None, None, 1, 3, 2),
    _item("SVC-INST", "On-site installation, per day 到場安裝(人天)", "Installation", None, "Days", 9_000, None, None,
          1, 5, 5),
    _item("SVC-COMM", "System commissioning, per day 系統試車(人天)", "Installation", None, "Days", 12_000, None,
          None, 1, 4, 3),
    _item("SVC-ENG", "Engineering services, per hour 工程服務(小時)", "Customization", None, "Hours", 1_800, None,
          None, 4, 80, 4),
    _item("SVC-TRN", "Operator training, per day 操作教育訓練(天)", "Training", None, "Days", 15_000, None, None, 1,
          3, 3),
    _item("SVC-MNT", "Annual maintenance contract 年度維護合約", "Support", None, "Each", 48_000, None, None, 1, 1, 3),
    _item("SVC-RMA", "Repair service, per incident 維修服務(件)", "Support", None, "Incidents", 2_500, None, None, 1,
          3, 4),
    _item("SVC-MIG", "Data migration 資料移轉服務", "Migration", None, "Each", 25_000, None, None, 1, 1, 1),
)


@dataclass(frozen=True)
class Shelf:
    """What the demo sells with: the catalogue's product ids (in CATALOGUE's order), the tax, the price books."""

    product_ids: list[int]
    tax_id: int
    twd: Currency
    usd: Currency
    dealer_book: int
    export_book: int


def load_catalogue(session: Session, ctx: bulk.BulkContext, batch: Batch) -> Shelf:
    """Write the catalogue, its tax classes and the two price books; the VAT made only when no tax is active."""
    twd, usd = (session.scalars(select(Currency).where(Currency.code == code)).one() for code in ("TWD", "USD"))
    tax = vat(session)
    for maker in MANUFACTURERS:
        if maker not in picklists.values(session, "manufacturer"):
            picklists.add_value(session, "manufacturer", maker)
    session.flush()
    ctx.validator = Validator.for_session(session)  # one that knows the makers just added
    ids = bulk.insert_records(session, "products", [_product_row(item, twd.id) for item in CATALOGUE], ctx,
                              batch=batch)
    insert_rows(session, ProductTax.__table__, [{"product_id": i, "tax_id": tax.id} for i in ids])
    books = bulk.insert_records(session, "price_books", [
        {"name": "Dealer price list 經銷商價目表", "currency_id": twd.id,
         "description": "Resellers and partners: 15 % off the list price."},
        {"name": "Export price list (US$) 外銷美金價目表", "currency_id": usd.id,
         "description": "Customers invoiced in US dollars."},
    ], ctx, batch=batch)
    prices = []
    for item, product_id in zip(CATALOGUE, ids, strict=True):
        dealer = (item.price * DEALER_SHARE).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        export = (item.price * EXPORT_MARKUP / usd.exchange_rate).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        prices += [{"price_book_id": books[0], "product_id": product_id, "list_price": dealer},
                   {"price_book_id": books[1], "product_id": product_id, "list_price": export}]
    for row, row_id in zip(prices, reserve_ids(session, PriceBookPrice.__table__, len(prices)), strict=True):
        row["id"] = row_id
    insert_rows(session, PriceBookPrice.__table__, prices)
    return Shelf(ids, tax.id, twd, usd, books[0], books[1])


def vat(session: Session) -> Tax:
    """The tax the demo's products pay: an active 5 % tax (else the first active one), or 營業稅 5 % made now."""
    active = list(session.scalars(select(Tax).where(Tax.active).order_by(Tax.position, Tax.id)))
    found = next((t for t in active if t.rate == VAT_RATE), active[0] if active else None)
    if found is None:
        found = Tax(name=VAT_NAME, rate=VAT_RATE, position=1, applies_to_shipping=True)
        session.add(found)
        session.flush()
    return found


def _product_row(item: Item, currency_id: int) -> dict[str, Any]:
    return {
        "product_code": item.code, "name": item.name, "category": item.category,
        "product_type": "service" if item.is_service else "product",
        "manufacturer": MANUFACTURERS[item.maker] if item.maker is not None else None,
        "unit_price": Decimal(item.price), "currency_id": currency_id, "usage_unit": item.unit,
        "qty_in_stock": Decimal(item.stock) if item.stock is not None else None,
        "reorder_level": Decimal(item.reorder) if item.reorder is not None else None,
        "specifications": [{"name": k, "value": v} for k, v in item.specifications],
    }
