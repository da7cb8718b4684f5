"""Official identifiers: 统一社会信用代码 (GB 32100-2015) and 宗地代码 (GB/T 37346-2019)."""

from __future__ import annotations

import re

from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum
from stdnum.exceptions import ValidationError as StdnumError

#: 宗地特征码, first letter: 所有权 type (G 国家, J 集体, Z 争议/未确定).
PARCEL_OWNERSHIP_LETTERS = "GJZ"
#: 宗地特征码, second letter: 宗地 type (B 建设用地使用权(地表), S 地上, X 地下, A 集体土地所有权, …).
PARCEL_TYPE_LETTERS = "ABSXCDEFGHLNWY"

_PARCEL_CODE_RE = re.compile(r"^(\d{6})(\d{3})(\d{3})([A-Z]{2})(\d{5})$")


def normalise_credit_code(value: str) -> str:
    """Return the 18-character 统一社会信用代码 in canonical form, or raise ``ValueError``.

    The message is Chinese and says what is wrong (length, characters or check character).
    The checksum itself is python-stdnum's implementation of GB 32100-2015.
    """
    code = (value or "").strip().upper()
    if len(code) != 18:
        raise ValueError(f"统一社会信用代码应为18位，实际为{len(code)}位")
    try:
        return uscc.validate(code)
    except InvalidChecksum as exc:
        expected = uscc.calc_check_digit(code[:17])
        raise ValueError(f"统一社会信用代码校验位错误：应为 {expected}，实际为 {code[17]}") from exc
    except StdnumError as exc:
        if not code[:8].isdigit():
            raise ValueError("统一社会信用代码前8位（登记管理部门、机构类别、行政区划代码）应为数字") from exc
        raise ValueError("统一社会信用代码含有不允许的字符（不得使用I、O、Z、S、V）") from exc


def credit_code_with_check(first17: str) -> str:
    """Append the GB 32100-2015 check character to 17 characters (used by the demo generator)."""
    return first17 + uscc.calc_check_digit(first17)


def parse_parcel_code(value: str) -> dict[str, str]:
    """Split a 19-character 宗地代码 into its parts, or raise ``ValueError`` (Chinese message).

    Layout (GB/T 37346-2019): county administrative code 6 + 地籍区 3 + 地籍子区 3 +
    宗地特征码 2 letters + 宗地顺序号 5.
    """
    code = (value or "").strip().upper()
    m = _PARCEL_CODE_RE.match(code)
    if not m:
        raise ValueError(
            "宗地代码应为19位：县级行政区代码6位+地籍区3位+地籍子区3位+宗地特征码2位字母+顺序号5位"
        )
    county, district, subdistrict, feature, seq = m.groups()
    if feature[0] not in PARCEL_OWNERSHIP_LETTERS or feature[1] not in PARCEL_TYPE_LETTERS:
        raise ValueError(f"宗地特征码“{feature}”不符合GB/T 37346-2019")
    if seq == "00000":
        raise ValueError("宗地顺序号不能为00000")
    return {
        "code": code,
        "county_code": county,
        "cadastral_district": district,
        "cadastral_subdistrict": subdistrict,
        "feature": feature,
        "sequence": seq,
    }


def make_parcel_code(county_code: str, district: int, subdistrict: int, sequence: int,
                     feature: str = "GB") -> str:
    """Compose a 宗地代码 from its parts (inverse of :func:`parse_parcel_code`)."""
    return parse_parcel_code(f"{county_code}{district:03d}{subdistrict:03d}{feature}{sequence:05d}")["code"]
