"""Value synonyms: the words people use for a column's values. The admin's (`CA` ↔ California, `D` ↔ delivered),
plus general knowledge that needs no admin — US states and their codes, countries and their ISO codes, month and
weekday names, the sexes' codes (F, M) — for a column whose sampled values are mostly of one such list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["GAZETTEERS", "value_synonyms"]

US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho",
    "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina",
    "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas",
    "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin",
    "WY": "Wyoming", "DC": "District of Columbia", "PR": "Puerto Rico",
}
# ISO 3166-1 alpha-2 -> (alpha-3, English names); the countries questions name most
COUNTRIES = {
    "US": ("USA", "United States", "United States of America", "America"), "GB": ("GBR", "United Kingdom", "UK",
    "Great Britain", "Britain"), "CA": ("CAN", "Canada"), "MX": ("MEX", "Mexico"), "BR": ("BRA", "Brazil"),
    "AR": ("ARG", "Argentina"), "CL": ("CHL", "Chile"), "CO": ("COL", "Colombia"), "PE": ("PER", "Peru"),
    "DE": ("DEU", "Germany"), "FR": ("FRA", "France"), "IT": ("ITA", "Italy"), "ES": ("ESP", "Spain"),
    "PT": ("PRT", "Portugal"), "NL": ("NLD", "Netherlands", "Holland"), "BE": ("BEL", "Belgium"),
    "CH": ("CHE", "Switzerland"), "AT": ("AUT", "Austria"), "IE": ("IRL", "Ireland"), "DK": ("DNK", "Denmark"),
    "SE": ("SWE", "Sweden"), "NO": ("NOR", "Norway"), "FI": ("FIN", "Finland"), "PL": ("POL", "Poland"),
    "CZ": ("CZE", "Czech Republic", "Czechia"), "HU": ("HUN", "Hungary"), "GR": ("GRC", "Greece"),
    "RO": ("ROU", "Romania"), "TR": ("TUR", "Turkey"), "RU": ("RUS", "Russia"), "UA": ("UKR", "Ukraine"),
    "IL": ("ISR", "Israel"), "EG": ("EGY", "Egypt"), "ZA": ("ZAF", "South Africa"), "NG": ("NGA", "Nigeria"),
    "KE": ("KEN", "Kenya"), "MA": ("MAR", "Morocco"), "SA": ("SAU", "Saudi Arabia"),
    "AE": ("ARE", "United Arab Emirates", "UAE"), "IN": ("IND", "India"), "PK": ("PAK", "Pakistan"),
    "CN": ("CHN", "China"), "JP": ("JPN", "Japan"), "KR": ("KOR", "South Korea", "Korea"), "TW": ("TWN", "Taiwan"),
    "HK": ("HKG", "Hong Kong"), "SG": ("SGP", "Singapore"), "MY": ("MYS", "Malaysia"), "TH": ("THA", "Thailand"),
    "VN": ("VNM", "Vietnam"), "ID": ("IDN", "Indonesia"), "PH": ("PHL", "Philippines"), "AU": ("AUS", "Australia"),
    "NZ": ("NZL", "New Zealand"),
}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
# a sex or gender column's codes and the words questions use for them ("female students", "male and female")
SEXES = {"F": ("female", "females", "woman", "women", "girl", "girls"),
         "M": ("male", "males", "man", "men", "boy", "boys")}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _gazetteers() -> dict[str, dict[str, tuple[str, ...]]]:
    """Per list: a value as a column may hold it (upper-cased) -> the other ways to say it."""
    states: dict[str, tuple[str, ...]] = {}
    for code, name in US_STATES.items():
        states[code] = (name,)
        states[name.upper()] = (code,)
    countries: dict[str, tuple[str, ...]] = {}
    for code, (alpha3, *names) in COUNTRIES.items():
        countries[code] = (alpha3, *names)
        countries[alpha3] = (code, *names)
        countries[names[0].upper()] = (code, alpha3, *names[1:])
    months: dict[str, tuple[str, ...]] = {}
    for name in MONTHS:
        months[name[:3].upper()] = (name,)
        months[name.upper()] = (name[:3],)
    weekdays: dict[str, tuple[str, ...]] = {}
    for name in WEEKDAYS:
        weekdays[name[:3].upper()] = (name,)
        weekdays[name.upper()] = (name[:3],)
    sexes: dict[str, tuple[str, ...]] = {}
    for code, words in SEXES.items():
        sexes[code] = words
        sexes[words[0].upper()] = (code, *words[1:])
    return {"us_states": states, "countries": countries, "months": months, "weekdays": weekdays, "sexes": sexes}


GAZETTEERS = _gazetteers()
# short codes that are also everyday words: as a synonym, "in" or "per" would read as Indiana or Peru in any
# question ("customers in Ohio", "revenue per category" must find neither)
_WORDLIKE = frozenset("in or me ok hi oh pa ma it no be at us is id as an to so do go on la de al ar my "
                      "are can per nor mar may sun sat wed".split())
_FIT = 0.8  # the share of a column's sampled values a list must hold to apply to it


def value_synonyms(values: Sequence[str] | None, admin: Mapping[str, Sequence[str]] | None = None,
                   ) -> dict[str, tuple[str, ...]]:
    """The words for each value of a column: the admin's, then the first general list that fits its values."""
    out: dict[str, tuple[str, ...]] = {v: tuple(w) for v, w in (admin or {}).items() if w}
    sample = [v for v in values or () if isinstance(v, str) and v.strip()]
    for name, gazetteer in GAZETTEERS.items():
        # too few values tell a list of states from a few words that happen to be codes; the two sexes are a list
        if len({v.strip().upper() for v in sample}) < (2 if name == "sexes" else 3):
            continue
        held = [v for v in sample if v.strip().upper() in gazetteer]
        if len(held) >= _FIT * len(sample):
            for value in held:
                words = tuple(w for w in gazetteer[value.strip().upper()]
                              if not (len(w) <= 3 and w.lower() in _WORDLIKE))
                if words:
                    out[value] = tuple(dict.fromkeys((*out.get(value, ()), *words)))
            break
    return out
