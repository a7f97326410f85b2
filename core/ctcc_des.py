"""China Telecom CMP request fields: the operator demo's `strEnc` / `strDec` DES, in Python.

The CMP API (`/m2m_ec/query.do?method=...`) wants `passWord = strEnc(password, k1, k2, k3)` and
`sign = strEnc(naturalOrdering(values), k1, k2, k3)`, where k1, k2, k3 are the three 3-character
thirds of the account's 9-character secret key. `strEnc` is the widely copied `des.js`
("Guapo", 2006) that China Telecom's Java demo (`DesUtils`) ports line for line:

* The text is cut into UTF-16 code units (Java `charAt`, JS `charCodeAt`), 4 per 64-bit block,
  each unit 16 bits big-endian; the last short block is padded with U+0000 units. No block is
  added when the length is a multiple of 4, and an empty text encrypts to "".
* Each key is cut the same way (4 units per 64-bit DES key, the last chunk padded with U+0000),
  so a 3-character key is one DES key whose last two bytes are zero.
* Every block is DES-encrypted with each chunk of the first key, then of the second, then of the
  third (encrypt only, no EDE), each block on its own (ECB), and printed as 16 upper-case hex
  digits. A key counts only if it is non-empty, and the second only with the first, the third
  only with both (the demo's nested `if`s): ("a", "", "c") encrypts with "a" alone.
* The per-key DES is the textbook one (FIPS 46 IP, E, S-boxes, P, shifts, PC-2, FP) except for
  PC-1, which the demo builds as `key[i*8+j] = keyByte[8*(7-j)+i]`: its C half is the standard
  one but its D half takes the key columns in the opposite order, so the result equals standard
  DES under a bit-permuted key, not under the key bytes themselves.
* `strDec` reverses this over whole 16-digit groups (a shorter tail is ignored) and drops every
  U+0000 unit of every block, which removes the padding (and any U+0000 the text had).

`natural_ordering` is the demo's `naturalOrdering`: Java `Arrays.sort` (UTF-16 code unit order),
joined with ",". Sub-keys are cached per key; blocks per (block, keys), since most blocks of a
sign (user id, password, method) repeat from one request to the next.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Sequence
from functools import lru_cache

SECRET_LENGTH = 9
_HEX_DIGITS = frozenset(string.hexdigits)
_MASK28 = (1 << 28) - 1

# The demo's tables, written 1-based as in FIPS 46 (bit 1 = most significant); the demo's own
# arrays are these minus one. IP and E are computed by loops in the demo; they give these.
_IP = (58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4,
       62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
       57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3,
       61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7)
_FP = (40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31,
       38, 6, 46, 14, 54, 22, 62, 30, 37, 5, 45, 13, 53, 21, 61, 29,
       36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27,
       34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25)
_E = (32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17,
      16, 17, 18, 19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1)
_P = (16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10,
      2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25)
_PC2 = (14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4,
        26, 8, 16, 7, 27, 20, 13, 2, 41, 52, 31, 37, 47, 55, 30, 40,
        51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32)
# The demo's PC-1 (see the module docstring): column i of the key bytes, last byte first.
_PC1 = tuple(8 * (7 - row) + column + 1 for column in range(7) for row in range(8))
_SHIFTS = (1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1)
_SBOXES = (
    (14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7,
     0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
     4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0,
     15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13),
    (15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10,
     3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
     0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15,
     13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9),
    (10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8,
     13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
     13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7,
     1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12),
    (7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15,
     13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
     10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4,
     3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14),
    (2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9,
     14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
     4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14,
     11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3),
    (12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11,
     10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
     9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6,
     4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13),
    (4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1,
     13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
     1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2,
     6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12),
    (13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7,
     1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
     7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8,
     2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11),
)

Schedule = tuple[int, ...]  # the 16 round sub-keys (48 bits each) of one DES key


def _permute(value: int, table: Sequence[int], width: int) -> int:
    """`value` (`width` bits) rearranged by a 1-based FIPS table, first entry = top bit."""
    out = 0
    for position in table:
        out = (out << 1) | ((value >> (width - position)) & 1)
    return out


def _byte_tables(table: Sequence[int], width: int) -> tuple[tuple[int, ...], ...]:
    """A permutation of a `width`-bit value as one lookup per input byte (top byte first)."""
    masks = [0] * width  # the output bits each input bit (0 = top) lands on
    for out_index, position in enumerate(table):
        masks[position - 1] |= 1 << (len(table) - 1 - out_index)
    tables = []
    for index in range(width // 8):
        entries = [0] * 256
        for value in range(1, 256):
            low = value & -value
            entries[value] = entries[value ^ low] | masks[8 * index + 8 - low.bit_length()]
        tables.append(tuple(entries))
    return tuple(tables)


def _sp_table(box: int) -> tuple[int, ...]:
    """S-box `box` followed by P, indexed by its raw 6-bit input (row = outer bits)."""
    entries = []
    for six in range(64):
        row, column = ((six >> 4) & 2) | (six & 1), (six >> 1) & 15
        entries.append(_permute(_SBOXES[box][16 * row + column] << (28 - 4 * box), _P, 32))
    return tuple(entries)


def _sp_pair(box: int) -> tuple[int, ...]:
    """S-boxes `box` and `box + 1` then P, indexed by their 12 input bits together."""
    high, low = _sp_table(box), _sp_table(box + 1)
    return tuple(high[index >> 6] | low[index & 63] for index in range(4096))


_IP_TABLES = _byte_tables(_IP, 64)
_FP_TABLES = _byte_tables(_FP, 64)
_E_TABLES = _byte_tables(_E, 32)
_SP_PAIRS = tuple(_sp_pair(box) for box in range(0, 8, 2))


def _permute64(block: int, tables: tuple[tuple[int, ...], ...]) -> int:
    """IP or FP of a 64-bit block through its byte tables."""
    t0, t1, t2, t3, t4, t5, t6, t7 = tables
    return (t0[block >> 56] | t1[(block >> 48) & 255] | t2[(block >> 40) & 255]
            | t3[(block >> 32) & 255] | t4[(block >> 24) & 255] | t5[(block >> 16) & 255]
            | t6[(block >> 8) & 255] | t7[block & 255])


@lru_cache(maxsize=64)
def _schedule(key_block: int) -> Schedule:
    """The demo's 16 round sub-keys (`generateKeys`) of one 64-bit key chunk."""
    halves = _permute(key_block, _PC1, 64)
    left, right = halves >> 28, halves & _MASK28
    rounds = []
    for shift in _SHIFTS:
        left = ((left << shift) | (left >> (28 - shift))) & _MASK28
        right = ((right << shift) | (right >> (28 - shift))) & _MASK28
        rounds.append(_permute((left << 28) | right, _PC2, 56))
    return tuple(rounds)


def _feistel(left: int, right: int, schedule: Schedule) -> tuple[int, int]:
    """16 rounds; returns (R16, L16), the halves the next DES starts from after FP then IP."""
    e0, e1, e2, e3 = _E_TABLES
    s01, s23, s45, s67 = _SP_PAIRS
    for sub_key in schedule:
        mixed = sub_key ^ (e0[right >> 24] | e1[(right >> 16) & 255]
                           | e2[(right >> 8) & 255] | e3[right & 255])
        left, right = right, left ^ (s01[mixed >> 36] | s23[(mixed >> 24) & 4095]
                                     | s45[(mixed >> 12) & 4095] | s67[mixed & 4095])
    return right, left


def _units(text: str) -> bytes:
    """`text` as UTF-16 code units, big-endian (a lone surrogate passes through as Java's)."""
    return text.encode("utf-16-be", "surrogatepass")


def _blocks(text: str) -> Iterator[int]:
    """The demo's `strToBt` blocks: 4 code units each, the last padded with U+0000."""
    raw = _units(text)
    raw += b"\0" * (-len(raw) % 8)
    return (int.from_bytes(raw[at:at + 8], "big") for at in range(0, len(raw), 8))


def _active_keys(first: str, second: str, third: str) -> tuple[str, ...]:
    """The keys the demo actually uses: its `if` cascade over the non-empty ones."""
    if first and second and third:
        return first, second, third
    if first and second:
        return first, second
    if first:
        return (first,)
    raise ValueError("strEnc/strDec need a non-empty first key")


@lru_cache(maxsize=64)
def _chain(keys: tuple[str, ...], decrypt: bool) -> tuple[Schedule, ...]:
    """Every key chunk's schedule in the order applied (`getKeyBytes` chunks of each key)."""
    schedules = tuple(_schedule(chunk) for key in keys for chunk in _blocks(key))
    if decrypt:
        return tuple(schedule[::-1] for schedule in reversed(schedules))
    return schedules


@lru_cache(maxsize=8192)
def _crypt_block(block: int, keys: tuple[str, ...], decrypt: bool) -> int:
    """One 64-bit block through every chunk's DES; IP/FP pairs in between cancel out."""
    state = _permute64(block, _IP_TABLES)
    left, right = state >> 32, state & 0xFFFFFFFF
    for schedule in _chain(keys, decrypt):
        left, right = _feistel(left, right, schedule)
    return _permute64((left << 32) | right, _FP_TABLES)


def str_enc(data: str, first: str, second: str, third: str) -> str:
    """The demo's `strEnc(data, firstKey, secondKey, thirdKey)`: upper-case hex, 16 per block."""
    if not data:
        return ""
    keys = _active_keys(first, second, third)
    return "".join(f"{_crypt_block(block, keys, False):016X}" for block in _blocks(data))


def _hex_block(digits: str) -> int:
    """16 hex digits (either case, as the Java port reads them) as a block."""
    if not _HEX_DIGITS.issuperset(digits):
        raise ValueError(f"strDec input must be hex digits, got {digits!r}")
    return int(digits, 16)


def str_dec(hex_text: str, first: str, second: str, third: str) -> str:
    """The demo's `strDec`: whole 16-digit groups only, every U+0000 code unit dropped."""
    usable = len(hex_text) - len(hex_text) % 16
    if not usable:
        return ""
    keys = _active_keys(first, second, third)
    units = bytearray()
    for at in range(0, usable, 16):
        plain = _crypt_block(_hex_block(hex_text[at:at + 16]), keys, True).to_bytes(8, "big")
        units += b"".join(plain[i:i + 2] for i in range(0, 8, 2) if plain[i:i + 2] != b"\0\0")
    return units.decode("utf-16-be", "surrogatepass")


def natural_ordering(values: Sequence[str]) -> str:
    """The demo's `naturalOrdering`: Java `Arrays.sort` order (UTF-16 units), joined by ","."""
    return ",".join(sorted(values, key=_units))


def split_key(key: str) -> tuple[str, str, str]:
    """The account's 9-character secret as the demo's three keys: key[0:3], [3:6], [6:9]."""
    if len(key) != SECRET_LENGTH:
        raise ValueError(f"China Telecom CMP secret key must be {SECRET_LENGTH} characters "
                         f"(three 3-character DES keys), got {len(key)}")
    return key[0:3], key[3:6], key[6:9]


def password_field(password: str, key: str) -> str:
    """The `passWord` request parameter: the password encrypted under the split secret."""
    return str_enc(password, *split_key(key))


def sign_field(values: Sequence[str], key: str) -> str:
    """The `sign` request parameter: the naturally ordered, comma-joined values encrypted."""
    return str_enc(natural_ordering(values), *split_key(key))
