#!/usr/bin/env python3
"""Turns Trino's own function tests into Strata's conformance cases.

Usage: extract.py TRINO_CHECKOUT [OUT_DIR]

The committed cases come from Trino's master at commit baa99fd (2026-06-24;
the `dain/trino` fork tracks it). An older checkout gives older
expectations: tests written before Java 19 expect Java's old digits for
doubles and reals, which Trino no longer returns.

Reads the scalar tests of trino-main (io/trino/operator/scalar, io/trino/type)
and the one-line examples of Trino's function docs (`SELECT f(x); -- result`),
and writes one `.slt` file per function family to OUT_DIR (default: the
folder of this script). Each case is

    # <source file>:<line> <function> <Trino type>
    query <class>
    SELECT <expression>
    ----
    <Trino's result>

or, where Trino expects an error, `statement error` with the expression.
The class letter says what kind of value Trino returns (I integer, R double
or real, N decimal, T varchar, B boolean, D date, P timestamp, A array,
M map, ? other), so a result of the wrong kind (123.0 for 123) is a wrong
answer even when it prints alike. Only Trino's facts are carried over (the
expression, its type, its result); the harness that runs them is
tests/it/conformance.rs.

A case whose expected value is not a plain Java value this script can read
(a value computed by Java code, a binary slice) is left out and counted.
"""

import os
import re
import struct
import sys
from collections import defaultdict

TEST_DIRS = [
    "core/trino-main/src/test/java/io/trino/operator/scalar",
    "core/trino-main/src/test/java/io/trino/type",
]
DOCS_DIR = "docs/src/main/sphinx/functions"


# ---------------------------------------------------------------- Java tokens

TOKEN = re.compile(
    r"""
    (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<chr>'(?:[^'\\\n]|\\.)+')
  | (?P<num>(?:0[xX][0-9a-fA-F_]+|\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)[lLdDfF]?)
  | (?P<id>[A-Za-z_$][\w$]*)
  | (?P<op>::|->|[-+*/%<>=!&|^~?:.,;(){}\[\]@])
    """,
    re.S | re.X,
)


def tokenize(src):
    out, pos, line = [], 0, 1
    while pos < len(src):
        m = TOKEN.match(src, pos)
        if not m:
            pos += 1
            continue
        kind = m.lastgroup
        text = m.group()
        if kind != "ws":
            out.append((kind, text, line))
        line += text.count("\n")
        pos = m.end()
    return out


def java_string(lit):
    """A Java string literal's value (escapes and \\uXXXX, surrogates joined)."""
    body = lit[1:-1]
    units, i = [], 0
    simple = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0",
              "'": "'", '"': '"', "\\": "\\", "s": " "}
    while i < len(body):
        c = body[i]
        if c == "\\":
            n = body[i + 1]
            if n == "u":
                j = i + 1
                while body[j] == "u":
                    j += 1
                units.append(int(body[j:j + 4], 16))
                i = j + 4
                continue
            if n in "01234567" and n != "0" or (n == "0" and i + 2 < len(body) and body[i + 2] in "01234567"):
                m = re.match(r"[0-7]{1,3}", body[i + 1:])
                units.append(int(m.group(), 8))
                i += 1 + len(m.group())
                continue
            units.append(ord(simple.get(n, n)))
            i += 2
            continue
        units.append(ord(c))
        i += 1
    # UTF-16 code units to text.
    data = b"".join(u.to_bytes(2, "little") for u in units if u < 0x10000)
    if any(u >= 0x10000 for u in units):
        return "".join(chr(u) for u in units)
    return data.decode("utf-16-le", errors="surrogatepass").encode("utf-16", "surrogatepass").decode("utf-16", errors="replace")


# ----------------------------------------------------------- Java expressions

class Unreadable(Exception):
    pass


class Parser:
    """Just enough Java expression syntax for test arguments and values."""

    def __init__(self, tokens, at=0):
        self.t, self.i = tokens, at

    def peek(self, k=0):
        return self.t[self.i + k] if self.i + k < len(self.t) else ("eof", "", 0)

    def take(self, text=None):
        tok = self.peek()
        if text is not None and tok[1] != text:
            raise Unreadable(f"expected {text}, found {tok[1]}")
        self.i += 1
        return tok

    def args(self):
        self.take("(")
        out = []
        if self.peek()[1] == ")":
            self.take(")")
            return out
        while True:
            out.append(self.expr())
            if self.peek()[1] == ",":
                self.take(",")
                continue
            self.take(")")
            return out

    def expr(self):
        left = self.unary()
        while self.peek()[1] in ("+", "-", "*", "/"):
            op = self.take()[1]
            right = self.unary()
            left = ("bin", op, left, right)
        if self.peek()[1] == "?":
            raise Unreadable("conditional")
        return left

    def unary(self):
        tok = self.peek()
        if tok[1] == "-":
            self.take()
            return ("neg", self.unary())
        if tok[1] == "(":
            # A cast `(byte) 1` or a parenthesised expression.
            if self.peek(1)[0] == "id" and self.peek(2)[1] == ")" and self.peek(1)[1] in (
                "byte", "short", "int", "long", "float", "double", "Object", "String", "Long", "Integer", "Double",
            ):
                self.take()
                cast = self.take()[1]
                self.take(")")
                return ("cast", cast, self.unary())
            self.take("(")
            e = self.expr()
            self.take(")")
            return self.postfix(e)
        return self.postfix(self.primary())

    def primary(self):
        kind, text, line = self.take()
        if kind == "str":
            return ("str", java_string(text))
        if kind == "num":
            return ("num", text)
        if kind == "chr":
            return ("str", java_string('"' + text[1:-1] + '"'))
        if kind == "id":
            if text == "new":
                name = self.qualified()
                if self.peek()[1] == "[":
                    raise Unreadable("array")
                if self.peek()[1] == "<":
                    raise Unreadable("generic")
                return ("new", name, self.args())
            name = text
            while self.peek()[1] == "." and self.peek(1)[0] == "id":
                self.take(".")
                name += "." + self.take()[1]
            if self.peek()[1] == "(":
                return ("call", name, self.args())
            return ("id", name)
        raise Unreadable(f"token {text}")

    def qualified(self):
        name = self.take()[1]
        while self.peek()[1] == ".":
            self.take(".")
            name += "." + self.take()[1]
        return name

    def postfix(self, e):
        while self.peek()[1] == "." and self.peek(1)[0] == "id":
            self.take(".")
            name = self.take()[1]
            if self.peek()[1] == "(":
                e = ("method", e, name, self.args())
            else:
                e = ("field", e, name)
        return e


def text_of(e):
    """A Java expression that is a string: literals, + and a few helpers."""
    if e[0] == "str":
        return e[1]
    if e[0] == "bin" and e[1] == "+":
        return text_of(e[2]) + text_of(e[3])
    if e[0] == "method" and e[2] == "repeat" and len(e[3]) == 1:
        return text_of(e[1]) * int(number_of(e[3][0]))
    if e[0] == "method" and e[2] == "formatted":
        return text_of(e[1]) % tuple(text_of(a) for a in e[3])
    if e[0] in ("num",):
        return e[1].rstrip("lL")
    if e[0] == "call" and e[1].split(".")[-1] == "format" and e[2] and e[2][0][0] == "str":
        # `format("INTEGER '%s' + INTEGER '1'", Integer.MAX_VALUE)`
        def arg(a):
            try:
                return text_of(a)
            except Unreadable:
                return str(number_of(a))
        return java_format(text_of(e[2][0]), [arg(a) for a in e[2][1:]])
    raise Unreadable("not a string")


def java_format(pattern, args):
    """Java's String.format with only `%s` and `%d` (and `%%`)."""
    out, used = [], iter(args)
    parts = re.split(r"(%[sd%])", pattern)
    for part in parts:
        if part in ("%s", "%d"):
            out.append(next(used))
        elif part == "%%":
            out.append("%")
        elif "%" in part:
            raise Unreadable("format pattern")
        else:
            out.append(part)
    return "".join(out)


class Real(float):
    """A Java `float`: a double rounded to single precision, written as
    Java writes it (the fewest digits that read back as the same float)."""

    def __new__(cls, v):
        return super().__new__(cls, struct.unpack("f", struct.pack("f", float(v)))[0])

    def __repr__(self):
        for digits in range(1, 18):
            text = f"{float(self):.{digits}g}"
            if struct.unpack("f", struct.pack("f", float(text)))[0] == float(self):
                return repr(float(text))
        return repr(float(self))

    __str__ = __repr__


def java_arithmetic(op, a, b):
    """`a op b` as Java evaluates it: in float when either side is a float
    and neither a double (a double's exact result rounded to float is the
    float result for + - * /)."""
    if op == "/" and isinstance(a, int) and isinstance(b, int):
        # Java's integer division truncates toward zero.
        if not b:
            return None
        q = abs(a) // abs(b)
        return q if (a < 0) == (b < 0) else -q
    v = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[op]
    if v is None:
        return None
    floats = [x for x in (a, b) if isinstance(x, float)]
    if floats and all(isinstance(x, Real) for x in floats):
        return Real(v)
    return v


def number_of(e):
    if e[0] == "num":
        t = e[1].replace("_", "")
        real = t[-1] in "fF" and not t.lower().startswith("0x")
        double = t[-1] in "dD" and not t.lower().startswith("0x")
        t = t[:-1] if t[-1] in "lLdDfF" and not t.startswith("0x") else t
        if real:
            return Real(float(t))
        if double:
            return float(t)
        return int(t, 16) if t.lower().startswith("0x") else (float(t) if re.search(r"[.eE]", t) else int(t))
    if e[0] == "neg":
        n = number_of(e[1])
        return Real(-n) if isinstance(n, Real) else -n
    if e[0] == "cast":
        n = number_of(e[2])
        if e[1] == "float":
            return Real(n)
        if e[1] == "double":
            return float(n)
        return n
    if e[0] == "bin" and e[1] in "+-*/":
        v = java_arithmetic(e[1], number_of(e[2]), number_of(e[3]))
        if v is None:
            raise Unreadable("division by zero")
        return v
    if e[0] == "id" and e[1].split(".")[-1] in ("MAX_VALUE", "MIN_VALUE"):
        owner, field = e[1].split(".")[-2:]
        bits = {"Long": 64, "Integer": 32, "Short": 16, "Byte": 8}.get(owner)
        if bits is None:
            raise Unreadable("limit")
        return 2 ** (bits - 1) - 1 if field == "MAX_VALUE" else -(2 ** (bits - 1))
    raise Unreadable("not a number")


# ---------------------------------------------------------------- Trino types

def type_of(e):
    """(Trino type name, class letter) of a Java type expression."""
    if e[0] == "id":
        name = e[1].split(".")[-1]
        simple = {
            "BIGINT": ("bigint", "I"), "INTEGER": ("integer", "I"), "SMALLINT": ("smallint", "I"),
            "TINYINT": ("tinyint", "I"), "DOUBLE": ("double", "R"), "REAL": ("real", "R"),
            "VARCHAR": ("varchar", "T"), "BOOLEAN": ("boolean", "B"), "DATE": ("date", "D"),
            "JSON": ("json", "J"), "VARBINARY": ("varbinary", "X"), "UNKNOWN": ("unknown", "?"),
            "TIMESTAMP_MILLIS": ("timestamp(3)", "P"), "TIMESTAMP_SECONDS": ("timestamp(0)", "P"),
            "TIMESTAMP_MICROS": ("timestamp(6)", "P"), "TIMESTAMP_NANOS": ("timestamp(9)", "P"),
            "TIME_MILLIS": ("time(3)", "?"), "TIME": ("time(3)", "?"),
            "TIMESTAMP_TZ_MILLIS": ("timestamp(3) with time zone", "Z"),
            "TIMESTAMP_WITH_TIME_ZONE": ("timestamp(3) with time zone", "Z"),
            "INTERVAL_DAY_TIME": ("interval day to second", "?"),
            "INTERVAL_YEAR_MONTH": ("interval year to month", "?"),
            "UUID": ("uuid", "?"), "IPADDRESS": ("ipaddress", "?"), "CHAR": ("char", "T"),
        }
        if name in simple:
            return simple[name]
        raise Unreadable(f"type {name}")
    if e[0] == "call":
        name = e[1].split(".")[-1]
        a = e[2]
        if name in ("createVarcharType", "createUnboundedVarcharType"):
            return ("varchar", "T")
        if name == "createCharType":
            return (f"char({number_of(a[0])})", "T")
        if name == "createDecimalType":
            return (f"decimal({','.join(str(number_of(x)) for x in a)})", "N")
        if name == "createTimestampType":
            return (f"timestamp({number_of(a[0])})", "P")
        if name == "createTimestampWithTimeZoneType":
            return (f"timestamp({number_of(a[0])}) with time zone", "Z")
        if name == "createTimeType":
            return (f"time({number_of(a[0])})", "?")
        if name == "mapType":
            return (f"map({type_of(a[0])[0]}, {type_of(a[1])[0]})", "M")
        if name in ("RowType.anonymous", "anonymous", "rowType", "RowType.rowType"):
            return ("row", "?")
    if e[0] == "new" and e[1].split(".")[-1] == "ArrayType":
        return (f"array({type_of(e[2][0])[0]})", "A")
    raise Unreadable("type")


# --------------------------------------------------------------- Java values

def render(e, cls):
    """Trino's result as Strata prints it, or None for NULL."""
    k = e[0]
    if k == "id" and e[1] == "null":
        return None
    if k == "id" and e[1] in ("true", "false"):
        return e[1]
    if k == "id" and e[1].split(".")[-1] in ("NaN", "POSITIVE_INFINITY", "NEGATIVE_INFINITY", "MAX_VALUE", "MIN_VALUE"):
        owner, field = e[1].rsplit(".", 1)
        owner = owner.split(".")[-1]
        if field == "NaN":
            return "NaN"
        if field == "POSITIVE_INFINITY":
            return "inf"
        if field == "NEGATIVE_INFINITY":
            return "-inf"
        limits = {
            ("Long", "MAX_VALUE"): 9223372036854775807, ("Long", "MIN_VALUE"): -9223372036854775808,
            ("Integer", "MAX_VALUE"): 2147483647, ("Integer", "MIN_VALUE"): -2147483648,
            ("Short", "MAX_VALUE"): 32767, ("Short", "MIN_VALUE"): -32768,
            ("Byte", "MAX_VALUE"): 127, ("Byte", "MIN_VALUE"): -128,
        }
        if (owner, field) in limits:
            return str(limits[(owner, field)])
        raise Unreadable("limit")
    if k in ("num", "neg", "cast"):
        n = number_of(e)
        return repr(float(n)) if cls == "R" and isinstance(n, int) else repr(n) if isinstance(n, float) else str(n)
    if k == "bin" and cls in ("I", "R", "N"):
        # Java arithmetic on numbers (`100000000017L + 37`), not text.
        a, b = number_of(e[2]), number_of(e[3])
        if e[1] == "/" and isinstance(a, int) and isinstance(b, int):
            raise Unreadable("integer division")
        v = java_arithmetic(e[1], a, b)
        if v is None or (isinstance(v, int) and not -2**63 <= v < 2**63):
            raise Unreadable("overflow")
        return repr(v if isinstance(v, float) else float(v)) if cls == "R" else str(v)
    if k in ("str", "bin"):
        return text_of(e)
    if k == "call":
        name = e[1].split(".")[-1]
        if name in ("asList", "of", "ImmutableList.of", "List.of", "copyOf") and not e[1].endswith("Map.of"):
            return "[" + ", ".join("NULL" if (v := render(x, "?")) is None else v for x in e[2]) + "]"
        if e[1].endswith("Map.of") or name == "mapOf":
            items = e[2]
            pairs = [(render(items[i], "?"), render(items[i + 1], "?")) for i in range(0, len(items), 2)]
            return "{" + ", ".join(f"{a}: {'NULL' if b is None else b}" for a, b in pairs) + "}"
        if name == "decimal" and len(e[2]) == 2 and e[2][0][0] == "str":
            # SqlDecimal.decimal(text, type): the text's digits are the
            # unscaled value, the type's scale places the point.
            args = e[2][1][2] if e[2][1][0] == "call" else []
            scale = number_of(args[1]) if len(args) == 2 else 0
            return decimal_text(int(e[2][0][1].replace(".", "")), scale)
        if name == "decimal" and e[2] and e[2][0][0] == "str":
            return e[2][0][1]
        if name == "sqlTimestampOf" and len(e[2]) == 8:
            p, y, mo, d, h, mi, s, frac = (number_of(x) for x in e[2])
            text = f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}"
            if p > 0:
                text += "." + f"{frac:03d}".ljust(p, "0")[:p]
            return text
        if name == "sqlTimestampOf" and len(e[2]) == 2 and e[2][1][0] == "str":
            return e[2][1][1]
        if name in ("toDate", "sqlDate") and len(e[2]) == 3:
            y, mo, d = (number_of(x) for x in e[2])
            return f"{y:04d}-{mo:02d}-{d:02d}"
        if name in ("Double.valueOf", "valueOf", "Long.valueOf"):
            return render(e[2][0], cls)
    if k == "new":
        name = e[1].split(".")[-1]
        if name == "SqlDecimal" and len(e[2]) == 3:
            inner = e[2][0]
            if inner[0] == "new" and inner[1] == "BigInteger" and inner[2][0][0] == "str":
                unscaled = int(inner[2][0][1])
                scale = number_of(e[2][2])
                return decimal_text(unscaled, scale)
        if name == "SqlDate" and len(e[2]) == 1:
            import datetime
            return (datetime.date(1970, 1, 1) + datetime.timedelta(days=number_of(e[2][0]))).isoformat()
        if name == "BigDecimal" and e[2][0][0] == "str":
            return e[2][0][1]
    raise Unreadable(f"value {k} {e[1] if len(e) > 1 else ''}")


def decimal_text(unscaled, scale):
    sign = "-" if unscaled < 0 else ""
    digits = str(abs(unscaled)).rjust(scale + 1, "0")
    return sign + (digits[:-scale] + "." + digits[-scale:] if scale else digits)


# -------------------------------------------------------------- test sources

FUNCTION_HEAD = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def function_of(sql):
    m = FUNCTION_HEAD.match(sql)
    if m and m.group(1).upper() not in ("CAST", "TRY_CAST", "CASE", "ARRAY", "MAP", "ROW", "NOT"):
        return m.group(1).lower()
    m = re.match(r"^\s*(CAST|TRY_CAST)\b", sql, re.I)
    if m:
        return m.group(1).lower()
    m = re.match(r"^\s*(EXTRACT)\b", sql, re.I)
    if m:
        return "extract"
    return "operator"


class Case:
    def __init__(self, source, line, function, sql, trino_type=None, cls="?", expected=None, error=False, note=""):
        self.source, self.line, self.function, self.sql = source, line, function, sql
        self.trino_type, self.cls, self.expected, self.error = trino_type, cls, expected, error
        # The session zone the case's answer assumes, when not UTC.
        self.session_zone = None
        # The session's start (an ISO instant), when the test fixes it.
        self.session_start = None

    def slt(self):
        sql = self.sql.strip()
        if "\n" in sql:
            sql = " ".join(sql.split())
        head = f"# {self.source}:{self.line} {self.function}"
        if self.session_zone:
            head = f"# session zone {self.session_zone}\n{head}"
        if self.session_start:
            head = f"# session start {self.session_start}\n{head}"
        if self.error:
            return f"{head} error\nstatement error\nSELECT {sql}\n"
        value = "NULL" if self.expected is None else (self.expected or "(empty)")
        # Lines of a multi-line value, or a value starting like a record, stay one line.
        value = value.replace("\n", "\\n")
        return f"{head} {self.trino_type or '?'}\nquery {self.cls}\nSELECT {sql}\n----\n{value}\n"


def bindings_sql(sql, binds):
    """Trino's `.binding("a", "1")`: the expression over a one-row VALUES."""
    if not binds:
        return sql
    names = ", ".join(n for n, _ in binds)
    values = ", ".join(v for _, v in binds)
    return f"{sql} FROM (VALUES ({values})) t({names})"


def session_zone_of(arg, src, depth=0):
    """The zone a Java TimeZoneKey expression names, or None."""
    arg = arg.strip()
    if re.fullmatch(r'(?:TestingSession\.)?DEFAULT_TIME_ZONE_KEY', arg):
        return "Pacific/Apia"  # TestingSession's
    if re.fullmatch(r'(?:TimeZoneKey\.)?UTC_KEY', arg):
        return "UTC"
    m = re.fullmatch(r'(?:TimeZoneKey\.)?getTimeZoneKey\("([^"]+)"\)', arg)
    if m:
        return m.group(1)
    m = re.fullmatch(r'(?:TimeZoneKey\.)?getTimeZoneKeyForOffset\(([-\d\s*+]+)\)', arg)
    if m:
        minutes = eval(m.group(1), {"__builtins__": {}})
        return f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02}:{abs(minutes) % 60:02}"
    m = re.search(rf'\b{re.escape(arg)}\s*=\s*([^;]+);', src)
    if m and depth < 3 and re.fullmatch(r'[\w.]+', arg):
        return session_zone_of(m.group(1), src, depth + 1)
    return None


def session_start_of(text, zone):
    """The instant a session's `SESSION_START_TIME_PROPERTY` (Trino's test
    server's `session_start_time`) fixes, as Java's Instant prints it, or
    None. Its ZonedDateTime is in the session's zone unless it names one."""
    m = re.search(r'SESSION_START_TIME_PROPERTY\s*,\s*ZonedDateTime\.of\(([-\d\s,_]+),\s*([^;]*?)\)\s*\.toInstant\(\)', text)
    if not m:
        return None
    parts = [int(x.replace("_", "")) for x in m.group(1).split(",")]
    if len(parts) != 7:
        return None
    named = re.fullmatch(r'ZoneId\.of\("([^"]+)"\)', m.group(2).strip())
    if named:
        zone = named.group(1)
    elif not re.fullmatch(r'assertions\.getDefaultSession\(\)\.getTimeZoneKey\(\)\.getZoneId\(\)', m.group(2).strip()):
        return None
    if zone is None:
        return None
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo
    y, mo, d, h, mi, sec, nanos = parts
    local = datetime(y, mo, d, h, mi, sec, tzinfo=ZoneInfo(zone))
    utc = local.astimezone(timezone.utc)
    # Java's Instant.toString: the fraction in groups of three digits, none when zero.
    frac = f"{nanos:09d}"
    while frac.endswith("000"):
        frac = frac[:-3]
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def read_tests(path, rel):
    src = open(path, encoding="utf-8").read()
    tokens = tokenize(src)
    cases, skipped = [], defaultdict(int)
    # A case's answer is for its session's zone, which Strata's harness
    # sets (Athena's is UTC). The class's session is set where no method
    # builds its own (TestingSession's Pacific/Apia when it sets none); a
    # method's `Session session = ...;` keeps the class's zone unless it
    # sets one.
    # A method's session is built (`Session session = ...;`) or built
    # again (`session = ...;`, the next cases' session).
    built = r'(?<![\w.])(?:Session\s+)?session\s*=[^;]*;'
    own = [(src.count("\n", 0, m.start()) + 1, m.group(0)) for m in re.finditer(built, src)]
    outside = re.sub(built, "", src)
    first = re.search(r'\.setTimeZoneKey\(([^;]*?)\)\s*(?:\.build|\n)', outside)
    class_zone = session_zone_of(first.group(1), src) if first else "Pacific/Apia"
    class_start = session_start_of(outside, class_zone)
    settings = []
    for at, text in own:
        m = re.search(r'\.setTimeZoneKey\(([^;]*?)\)\s*(?:\.build|\n)', text)
        zone = session_zone_of(m.group(1), src) if m else class_zone
        settings.append((at, zone, session_start_of(text, zone) or class_start))
    i = 0
    while i < len(tokens):
        kind, text, line = tokens[i]
        if kind != "id":
            i += 1
            continue
        # The statement this assertion starts: up to its `;` at depth 0.
        if text in ("assertFunction", "assertInvalidFunction", "assertNumericOverflow", "assertInvalidCast",
                    "assertDecimalFunction", "assertThat", "assertTrinoExceptionThrownBy", "assertThatThrownBy") \
                and i + 1 < len(tokens) and tokens[i + 1][1] == "(" and (i == 0 or tokens[i - 1][1] in (";", "{", "}")):
            j, depth = i, 0
            while j < len(tokens):
                if tokens[j][1] in "({[":
                    depth += 1
                elif tokens[j][1] in ")}]":
                    depth -= 1
                elif tokens[j][1] == ";" and depth == 0:
                    break
                j += 1
            stmt = tokens[i:j]
            try:
                case = assertion(stmt, rel, line)
                if case is not None and not printable(case):
                    raise Unreadable("control characters")
                zone, start = class_zone, class_start
                if any(t[1] == "session" for t in stmt):
                    before = [(z, s) for at, z, s in settings if at <= line]
                    zone, start = before[-1] if before else (None, None)
                if case is not None and zone is None:
                    raise Unreadable("session-zone")
                # The current time is the session's start, which Trino's tests
                # fix through their server's `session_start_time` (as Strata's
                # harness does); where a test leaves it to the clock, the
                # answer is the day's and cannot be compared.
                if case is not None and start is None and re.search(r"(?i)\b(current_timestamp|localtimestamp|current_time|localtime|current_date|now\s*\()", case.sql):
                    raise Unreadable("session-start")
                if case is not None:
                    case.session_start = start
                # Trino's test server names its version 'testversion'; a real
                # server, Athena or Strata names its own.
                if case is not None and re.search(r"(?i)\bversion\s*\(\s*\)", case.sql):
                    raise Unreadable("server-version")
                if case is not None and zone != "UTC" and re.search(r"to_unixtime\(\s*TIMESTAMP '[-\d :.]+'\s*\)", case.sql):
                    raise Unreadable("session-zone")
                if case is not None:
                    if zone != "UTC":
                        case.session_zone = zone
                    cases.append(case)
            except (Unreadable, IndexError, ValueError, KeyError, TypeError, OverflowError) as e:
                skipped[str(e).split(" ")[0] or "unreadable"] += 1
            i = j + 1
            continue
        i += 1
    return cases, skipped


def printable(case):
    """A case whose text has control characters cannot be one .slt line."""
    texts = [case.sql, case.expected or ""]
    return not any(ord(ch) < 32 or 0xD800 <= ord(ch) < 0xE000 for t in texts for ch in t)


def assertion(stmt, rel, line):
    p = Parser(stmt)
    head = p.take()[1]
    if head in ("assertFunction", "assertDecimalFunction"):
        args = p.args()
        sql = text_of(args[0])
        if head == "assertDecimalFunction":
            value = args[1]
            tname, cls = ("decimal", "N")
        else:
            tname, cls = type_of(args[1])
            value = args[2]
        expected = render(value, cls)
        return Case(rel, line, function_of(sql), sql, tname, cls, expected)
    if head in ("assertInvalidFunction", "assertNumericOverflow", "assertInvalidCast"):
        args = p.args()
        sql = text_of(args[0])
        return Case(rel, line, function_of(sql), sql, error=True)
    if head in ("assertTrinoExceptionThrownBy", "assertThatThrownBy"):
        p.take("(")
        sql, binds, function = subject(p)
        return Case(rel, line, function, bindings_sql(sql, binds), error=True)
    if head == "assertThat":
        p.take("(")
        if not (p.peek()[1] == "assertions" and p.peek(1)[1] == "."):
            return None
        sql, binds, function = subject(p)
        p.take(")")
        tname, cls, expected, have = None, "?", None, False
        while p.peek()[1] == ".":
            p.take(".")
            method = p.take()[1]
            args = p.args()
            if method == "hasType":
                tname, cls = type_of(args[0])
            elif method == "isEqualTo":
                expected, have = args[0], True
            elif method == "isNull":
                tname, cls = type_of(args[0])
                expected, have = ("id", "null"), True
            elif method == "matches":
                # Trino's result given as SQL: compare with that SQL's value.
                # The bindings' FROM goes after the whole comparison.
                compared = f"({sql}) IS NOT DISTINCT FROM ({text_of(args[0])})"
                return Case(rel, line, function, bindings_sql(compared, binds), "boolean", "B", "true")
            elif method in ("isTrue", "isFalse"):
                expected, have, cls, tname = ("id", "true" if method == "isTrue" else "false"), True, "B", "boolean"
            else:
                raise Unreadable(f"method {method}")
        if not have:
            raise Unreadable("no expectation")
        if cls == "?" and expected[0] in ("num", "neg", "bin"):
            try:
                cls = "R" if isinstance(number_of(expected), float) else "I"
            except Unreadable:
                pass
        if tname is None and decimal_type_of(expected):
            tname, cls = decimal_type_of(expected)
        return Case(rel, line, function, bindings_sql(sql, binds), tname, cls, render(expected, cls))
    return None


def decimal_type_of(e):
    """The type of `decimal("1.5", createDecimalType(2, 1))`, or None."""
    if e[0] == "call" and e[1].split(".")[-1] == "decimal" and len(e[2]) == 2 and e[2][1][0] == "call":
        return type_of(e[2][1])
    return None


def subject(p):
    """`assertions.function("f", "a", ...)` or `assertions.expression("e")`, and its bindings."""
    p.take("assertions")
    p.take(".")
    kind = p.take()[1]
    args = p.args()
    if kind == "function":
        name = text_of(args[0])
        sql = f"{name}({', '.join(text_of(a) for a in args[1:])})"
        function = name.lower()
    elif kind == "expression":
        sql = text_of(args[0])
        function = function_of(sql)
    elif kind == "operator":
        sql, function = operator_sql(args)
    else:
        raise Unreadable(f"assertions.{kind}")
    binds = []
    while p.peek()[1] == "." and p.peek(1)[1] == "binding":
        p.take(".")
        p.take()
        b = p.args()
        binds.append((text_of(b[0]), text_of(b[1])))
    if p.peek()[1] == "::":
        p.take()
        p.take()
    return sql, binds, function


# Trino's operators as SQL; the others (INDETERMINATE, HASH_CODE, ...) have
# no SQL spelling, so their cases are left out.
INFIX = {"ADD": "+", "SUBTRACT": "-", "MULTIPLY": "*", "DIVIDE": "/", "MODULO": "%",
         "EQUAL": "=", "LESS_THAN": "<", "LESS_THAN_OR_EQUAL": "<=",
         "IDENTICAL": "IS NOT DISTINCT FROM"}


def operator_sql(args):
    """`assertions.operator(ADD, "a", "b")`: the operator written between its operands."""
    if args[0][0] != "id":
        raise Unreadable("operator")
    op = args[0][1].split(".")[-1]
    operands = [f"({text_of(a)})" for a in args[1:]]
    if op == "NEGATION" and len(operands) == 1:
        return f"-{operands[0]}", "negation"
    if op in INFIX and len(operands) == 2:
        return f"{operands[0]} {INFIX[op]} {operands[1]}", op.lower()
    raise Unreadable(f"operator {op}")


def read_docs(path, rel):
    cases = []
    for n, raw in enumerate(open(path, encoding="utf-8"), 1):
        m = re.match(r"^\s*SELECT (.*?);\s*--\s*(.*?)\s*$", raw)
        if not m:
            continue
        sql, result = m.group(1), m.group(2)
        if not result or result.lower().startswith(("error", "fails", "returns", "true if")) or len(result) > 200:
            continue
        if result == "null":
            result = "NULL"
        if "(invalid" in result:
            continue
        # `JSON '[1,2]'` in the docs is the JSON text.
        if result.startswith("[") and result.endswith("]"):
            # The docs quote an array's strings: ['a', 'b'] prints [a, b].
            result = re.sub(r"'([^']*)'", r"\1", result)
        m = re.fullmatch(r"JSON '(.*)'", result)
        if m:
            result = m.group(1)
        # `'abc' (the double quote is gone)`: the value, then a remark.
        m = re.fullmatch(r"('[^']*') \(.*\)", result)
        if m:
            result = m.group(1)
        if result.startswith("'") and result.endswith("'"):
            result = result[1:-1]
        cases.append(Case(rel, n, function_of(sql), sql, "doc", "?", result))
    return cases


def family(rel, function):
    name = os.path.basename(rel)
    if rel.startswith("docs/"):
        return "docs"
    # The per-type folders of the date/time tests: one family each, since
    # Strata supports TIMESTAMP but not (yet) every zoned or TIME type.
    folder = os.path.basename(os.path.dirname(rel))
    if folder in ("timestamp", "timestamptz", "time", "timetz"):
        return folder
    if name in ("TestIpAddressFunctions.java", "TestIpAddressOperators.java", "TestUuidOperators.java"):
        return "network"
    table = [
        ("Regexp", "regexp"), ("Json", "json"), ("DateTime", "datetime"), ("Timestamp", "datetime"),
        ("Date", "datetime"), ("Time", "datetime"), ("Interval", "datetime"), ("Extract", "datetime"),
        ("Math", "math"), ("String", "string"), ("ConcatWs", "string"), ("Varchar", "string"),
        ("Char", "string"), ("Like", "string"), ("Url", "url"), ("Varbinary", "binary"), ("Bitwise", "math"),
        ("Array", "array"), ("Map", "map"), ("Decimal", "decimal"), ("Double", "number"), ("Real", "number"),
        ("Bigint", "number"), ("Integer", "number"), ("Smallint", "number"), ("Tinyint", "number"),
        ("Boolean", "conditional"), ("Conditions", "conditional"), ("Try", "conditional"),
        ("FormatNumber", "string"), ("Format", "string"), ("Row", "row"), ("Lambda", "lambda"),
    ]
    for key, fam in table:
        if key in name:
            return fam
    return "other"


def main():
    root = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))
    files = defaultdict(list)
    skipped_total = defaultdict(int)
    for d in TEST_DIRS:
        for dirpath, _, names in os.walk(os.path.join(root, d)):
            for name in sorted(names):
                if not (name.startswith(("Test", "AbstractTest")) and name.endswith(".java")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, os.path.join(root, "core/trino-main/src/test/java"))
                cases, skipped = read_tests(path, rel)
                for c in cases:
                    files[family(rel, c.function)].append(c)
                for k, v in skipped.items():
                    skipped_total[k] += v
    docs = os.path.join(root, DOCS_DIR)
    if os.path.isdir(docs):
        for name in sorted(os.listdir(docs)):
            if name.endswith((".rst", ".md")):
                files["docs"].extend(read_docs(os.path.join(docs, name), f"docs/{name}"))
    total = 0
    for fam, cases in sorted(files.items()):
        seen, unique = set(), []
        for c in cases:
            key = (c.sql, c.error, c.expected)
            if key in seen:
                continue
            seen.add(key)
            unique.append(c)
        with open(os.path.join(out, f"{fam}.slt"), "w", encoding="utf-8") as f:
            f.write(f"# Generated by tests/conformance/extract.py from Trino's tests and docs; do not edit.\n"
                    f"# Each case names the Trino file and line it comes from.\n\n")
            for c in unique:
                f.write(c.slt() + "\n")
        total += len(unique)
        print(f"{fam:12} {len(unique):6} cases", file=sys.stderr)
    print(f"{'total':12} {total:6} cases; left out: {sum(skipped_total.values())} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(skipped_total.items(), key=lambda x: -x[1])[:8])})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
