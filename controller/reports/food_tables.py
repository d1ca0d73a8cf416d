"""The 节粮 tables: 光盘之星, waste per diner by meal, the 光盘 rate, waste by line and bin."""

from __future__ import annotations

from .food import FoodFigures, WasteSplit
from .i18n import text
from .model import Column, Table

__all__ = ["food_tables", "meal_name"]

_MEAL_NAMES = {
    "breakfast": ("早餐", "Breakfast"),
    "lunch": ("午餐", "Lunch"),
    "dinner": ("晚餐", "Dinner"),
}
_WORDS = {
    "per_diner": ("人均厨余 kg", "kg per diner"),
    "base_per_diner": ("基准人均厨余 kg", "Baseline kg per diner"),
    "t_plates": ("光盘率（餐盘检查）", "Clean-plate rate (tray checks)"),
    "t_food_split": ("厨余按窗口、桶与餐次", "Food waste by line, bin and meal"),
    "plates": ("检查餐盘", "Plates checked"),
    "clean": ("光盘数", "Clean plates"),
    "clean_rate": ("光盘率", "Clean-plate rate"),
    "base_clean_rate": ("基准光盘率", "Baseline rate"),
    "pp": ("变化（百分点）", "Change (points)"),
    "line": ("窗口", "Line"),
    "bin": ("桶", "Bin"),
    "share": ("占本食堂", "Share of canteen"),
    "base_kg": ("基准 kg", "Baseline kg"),
    "untagged": ("未标注", "untagged"),
    "imported_note": (
        "就餐人次：{n} 个餐次（食堂·日·餐）取自一卡通导入数据，其余取自计数器。",
        "Diners: {n} canteen-day-meals come from the card-system import, the rest from counters.",
    ),
    "plates_note": (
        "光盘率 = 光盘数 ÷ 检查餐盘数（收盘处检查）。",
        "Clean-plate rate = clean plates ÷ plates checked at the tray return.",
    ),
}
_BINS = {"plate": ("餐盘剩余", "plate waste"), "prep": ("后厨备餐", "kitchen prep")}


def _t(key: str, lang: str) -> str:
    zh, en = _WORDS[key]
    return en if lang == "en" else zh


def meal_name(meal: str, lang: str) -> str:
    zh, en = _MEAL_NAMES.get(meal, (meal, meal))
    return en if lang == "en" else zh


def _change(now: float | None, before: float | None) -> float | None:
    return None if now is None or not before else (now - before) / before


def food_tables(food: FoodFigures, lang: str) -> list[Table]:
    """光盘之星, by meal, then (where recorded) the 光盘 rate and the line/bin split."""
    tables = [_stars(food, lang), _by_meal(food, lang)]
    if any(m.plates > 0 or m.base_plates > 0 for m in food.meals):
        tables.append(_plates(food, lang))
    if food.splits:
        tables.append(_split(food.splits, lang))
    return tables


def _by_meal(food: FoodFigures, lang: str) -> Table:
    table = Table(
        "food",
        text("t_food", lang),
        (
            Column(text("canteen", lang), "text"),
            Column(text("meal", lang), "text"),
            Column(text("diners", lang), "int"),
            Column(text("waste_kg", lang), "num1"),
            Column(_t("per_diner", lang), "num3"),
            Column(_t("base_per_diner", lang), "num3"),
            Column(text("change", lang), "pct"),
        ),
    )
    for m in food.meals:
        now, before = m.per_diner, m.base_per_diner
        table.rows.append(
            (
                m.canteen,
                meal_name(m.meal, lang),
                round(m.diners),
                m.waste_kg,
                now,
                before,
                _change(now, before),
            )
        )
    imported = sum(m.imported for m in food.meals)
    if imported:
        table.note = _t("imported_note", lang).format(n=imported)
    return table


def _stars(food: FoodFigures, lang: str) -> Table:
    """Canteens by kg per diner, lowest first."""
    stars = Table(
        "star_plate",
        text("t_star_plate", lang),
        (
            Column(text("rank", lang), "int"),
            Column(text("canteen", lang), "text"),
            Column(text("kg_pd", lang) + " kg", "num3"),
            Column(text("change", lang), "pct"),
        ),
    )
    per_canteen: dict[str, list[float]] = {}
    for m in food.meals:
        acc = per_canteen.setdefault(m.canteen, [0.0, 0.0, 0.0, 0.0])
        if m.weighed:
            acc[0] += m.waste_kg
            acc[1] += m.diners
        if m.base_weighed:
            acc[2] += m.base_waste_kg
            acc[3] += m.base_diners
    ranked = []
    for canteen, (waste, diners, b_waste, b_diners) in per_canteen.items():
        if diners <= 0:
            continue
        now = waste / diners
        before = b_waste / b_diners if b_diners > 0 else None
        ranked.append((now, canteen, _change(now, before)))
    ranked.sort()
    for rank, (now, canteen, change) in enumerate(ranked, start=1):
        stars.rows.append((rank, canteen, now, change))
    return stars


def _plates(food: FoodFigures, lang: str) -> Table:
    table = Table(
        "plates",
        _t("t_plates", lang),
        (
            Column(text("canteen", lang), "text"),
            Column(text("meal", lang), "text"),
            Column(_t("plates", lang), "int"),
            Column(_t("clean", lang), "int"),
            Column(_t("clean_rate", lang), "share"),
            Column(_t("base_clean_rate", lang), "share"),
            Column(_t("pp", lang), "num1"),
        ),
        note=_t("plates_note", lang),
    )
    for m in food.meals:
        if m.plates <= 0 and m.base_plates <= 0:
            continue
        now, before = m.clean_rate, m.base_clean_rate
        points = None if now is None or before is None else (now - before) * 100
        table.rows.append(
            (
                m.canteen,
                meal_name(m.meal, lang),
                round(m.plates),
                round(m.clean),
                now,
                before,
                points,
            )
        )
    return table


def _split(splits: list[WasteSplit], lang: str) -> Table:
    table = Table(
        "food_split",
        _t("t_food_split", lang),
        (
            Column(text("canteen", lang), "text"),
            Column(_t("line", lang), "text"),
            Column(_t("bin", lang), "text"),
            Column(text("meal", lang), "text"),
            Column(text("waste_kg", lang), "num1"),
            Column(_t("share", lang), "share"),
            Column(_t("base_kg", lang), "num1"),
            Column(text("change", lang), "pct"),
        ),
    )
    canteen_kg: dict[str, float] = {}
    for s in splits:
        canteen_kg[s.canteen] = canteen_kg.get(s.canteen, 0.0) + s.kg
    untagged = _t("untagged", lang)
    for s in splits:
        total = canteen_kg[s.canteen]
        zh, en = _BINS.get(s.bin, (s.bin, s.bin))
        table.rows.append(
            (
                s.canteen,
                s.line or untagged,
                (en if lang == "en" else zh) or untagged,
                meal_name(s.meal, lang),
                s.kg,
                s.kg / total if total > 0 else None,
                s.base_kg,
                _change(s.kg, s.base_kg),
            )
        )
    return table
