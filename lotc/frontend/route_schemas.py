"""The route catalogue: one declarative schema per `WITH TYPE`, read as a table.

Each ``RouteSchema`` lists the blocks a route type takes (its config blocks and
its ``MAPPING`` / ``EVENT`` sub-blocks, with ``TAG`` nested in ``MAPPING``),
and for each block its keys: the value kind, the range or choices, whether
the key is required, its documented default and the other spellings in use.
Spellings follow the current LoT pages; older and plugin spellings are
aliases that resolve to the canonical key (``IP`` -> ``HOST`` in
``MODBUS_CONFIG``, ``POSTGRESQL_CONFIG`` -> ``SQL_CONFIG``).  Types whose key
tables are not published (``KAFKA``, ``CRATEDB``, ``SNOWFLAKE``, ``VIDEO_*``)
are open: any block and any key pass.

The checks live in ``lotc.frontend.schemas``; code generation reads a route's
settings through ``resolve_settings``, which answers in canonical keys with the
defaults filled in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from lotc.frontend import ast

# Value kinds a key may take.  Values written with GET ENV / GET SECRET are
# resolved at load time and never checked here.
STRING, INTEGER, NUMBER, BOOLEAN, CHOICE = (
    "string",
    "integer",
    "number",
    "boolean",
    "choice",
)
FILTER, TOPIC, TEMPLATE, EVERY, SELF = "filter", "topic", "template", "every", "self"


@dataclass(frozen=True)
class Key:
    """One `WITH KEY value` a block accepts.

    ``TEMPLATE`` strings may hold ``{...}`` placeholders; ``TOPIC`` strings are
    publish targets (placeholders allowed); ``FILTER`` strings are MQTT filters.
    """

    name: str
    kind: str = STRING
    required: bool = False
    default: object = None
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class BlockSchema:
    """``ADD <kind>``: its keys, and what must be set.

    ``needs`` lists groups of keys of which at least one must be set (a
    required key is a group of one); ``broker_self`` blocks are complete with
    ``WITH BROKER SELF`` alone.  ``named`` blocks are written ``ADD kind name``.
    """

    kind: str
    keys: tuple[Key, ...] = ()
    needs: tuple[tuple[str, ...], ...] = ()
    children: tuple[BlockSchema, ...] = ()
    aliases: tuple[str, ...] = ()
    named: bool = False
    broker_self: bool = False
    open: bool = False

    def key(self, spelling: str) -> Key | None:
        """The key written as ``spelling`` (canonical name or alias)."""
        for candidate in self.keys:
            if spelling == candidate.name or spelling in candidate.aliases:
                return candidate
        return None

    def spellings(self) -> list[str]:
        return [s for k in self.keys for s in (k.name, *k.aliases)]

    def child(self, kind: str) -> BlockSchema | None:
        return next((c for c in self.children if c.kind == kind), None)

    def requirements(self) -> tuple[tuple[str, ...], ...]:
        single = tuple((k.name,) for k in self.keys if k.required)
        return single + self.needs


@dataclass(frozen=True)
class RouteSchema:
    """A route type: its blocks, those it cannot do without, and its family."""

    type: str
    family: str
    blocks: tuple[BlockSchema, ...]
    required_blocks: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    open: bool = False
    sql: bool = False

    def block(self, kind: str) -> BlockSchema | None:
        """The block written ``ADD kind`` (canonical name or alias)."""
        for candidate in self.blocks:
            if kind == candidate.kind or kind in candidate.aliases:
                return candidate
        return None

    def block_spellings(self) -> list[str]:
        return [s for b in self.blocks for s in (b.kind, *b.aliases)]

    @property
    def primary(self) -> BlockSchema | None:
        """The config block that settings written directly in the route fill."""
        configs = [b for b in self.blocks if b.kind.endswith("_CONFIG")]
        own = [b for b in configs if b.kind not in _SHARED_BLOCKS]
        return own[0] if len(own) == 1 else None


# ------------------------------------------------------------- key helpers


def text(name: str, *aliases: str, required: bool = False, default=None) -> Key:
    return Key(name, STRING, required, default, aliases=aliases)


def integer(
    name: str, low=None, high=None, *aliases: str, default=None, required=False
):
    return Key(name, INTEGER, required, default, low, high, aliases=aliases)


def number(name: str, low=None, high=None, default=None) -> Key:
    return Key(name, NUMBER, default=default, low=low, high=high)


def flag(name: str, default: bool | None = False, *aliases: str) -> Key:
    return Key(name, BOOLEAN, default=default, aliases=aliases)


def choice(name: str, choices: tuple[str, ...], default=None, *aliases, required=False):
    return Key(name, CHOICE, required, default, choices=choices, aliases=aliases)


def port(name: str = "PORT", default: int | None = None, *aliases: str) -> Key:
    return integer(name, 1, 65535, *aliases, default=default)


def millis(name: str, default: int | None = None) -> Key:
    return integer(name, 0, None, default=default)


def filter_key(name: str = "SOURCE_TOPIC", required: bool = False, *aliases) -> Key:
    return Key(name, FILTER, required, aliases=aliases)


def topic_key(name: str = "DESTINATION_TOPIC", required: bool = False) -> Key:
    return Key(name, TOPIC, required)


def template(name: str, *aliases: str, required: bool = False) -> Key:
    return Key(name, TEMPLATE, required, aliases=aliases)


# ------------------------------------------------------------- shared blocks

BROKER_KEYS = (
    Key("BROKER", SELF),
    text("BROKER_ADDRESS"),
    port("BROKER_PORT", 1883),
    text("CLIENT_ID"),
    text("USERNAME"),
    text("PASSWORD"),
    flag("USE_TLS"),
)
BRIDGE_KEYS = BROKER_KEYS + (
    flag("ALLOW_UNTRUSTED_CERTS"),
    text("SERVER_CA_CERT_PATH"),
    text("CLIENT_CERT_PATH"),
    text("CLIENT_CERT_PASS"),
    integer("RECONNECTION_RETRIES", 0, None, default=5),
)
BROKER_NEEDS = (("BROKER_ADDRESS",),)

ROUTE_CONFIG = BlockSchema(
    "ROUTE_CONFIG",
    (
        choice("OVERLOAD_POLICY", ("lossless", "balanced", "realtime"), "balanced"),
        millis("OVERLOAD_TIMEOUT", 50),
        integer("OVERLOAD_CAPACITY", 1, None),
    ),
)
MQTT_CONFIG = BlockSchema("MQTT_CONFIG", BROKER_KEYS, BROKER_NEEDS, broker_self=True)
_SHARED_BLOCKS = ("ROUTE_CONFIG", "MQTT_CONFIG")

# ------------------------------------------------------------- OT blocks

DATA_TYPES = (
    *("BOOL", "BOOLEAN", "BYTE", "SBYTE", "CHAR", "STRING", "WSTRING"),
    *("INT", "SINT", "DINT", "LINT", "UINT", "USINT", "UDINT", "ULINT"),
    *("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"),
    *("WORD", "DWORD", "LWORD", "REAL", "LREAL", "FLOAT", "DOUBLE"),
    *("FLOAT32", "FLOAT64", "DATETIME", "DATE", "TIME"),
)
TAG_KEYS = (
    text("ADDRESS", "REGISTER", required=True),
    choice("DATA_TYPE", DATA_TYPES, required=True),
    choice(
        "ADDRESS_TYPE", ("HOLDING_REGISTER", "INPUT_REGISTER", "COIL", "DISCRETE_INPUT")
    ),
    filter_key("SOURCE_TOPIC"),
    number("SCALING", default=1),
    number("OFFSET", default=0),
    text("UNIT"),
    choice("MEMORY_TYPE", ("CIO", "WR", "HR", "AR", "DM", "CNT", "TIM", "EM")),
    number("DEADBAND", low=0),
    choice("PUBLISH_MODE", ("ALWAYS", "ON_CHANGE", "CHANGE", "CYCLIC")),
    integer("DECIMAL_PLACES", 0, 15),
    flag("WRITABLE"),
    filter_key("DESTINATION_TOPIC"),
    # Register order of multi-register values and byte order inside a register
    # (Modbus); BIG is the Modbus specification's order (ABCD).
    choice("WORD_ORDER", ("BIG", "LITTLE")),
    choice("BYTE_ORDER", ("BIG", "LITTLE")),
    # Publish the server's source timestamp with the value (OPC UA).
    flag("SOURCE_TIMESTAMP", None),
    # Characters an S7 STRING holds (its declared maximum; S7's default 254).
    integer("LENGTH", 1, 254),
    # The BACnet priority (1-16) commands are written at; 8 when not set.
    integer("PRIORITY", 1, 16),
)
POLL_MAPPING_KEYS = (
    Key("EVERY", EVERY, default="1 SECONDS"),
    filter_key("SOURCE_TOPIC"),
)
TAG = BlockSchema("TAG", TAG_KEYS, named=True)
POLL_MAPPING = BlockSchema("MAPPING", POLL_MAPPING_KEYS, children=(TAG,), named=True)

# The compact Modbus form (CANONICAL.md): a mapping that is itself one register,
# published to its DESTINATION_TOPIC.
_COMPACT = tuple(
    replace(k, required=False)
    for k in TAG_KEYS
    if k.name not in ("SOURCE_TOPIC", "DESTINATION_TOPIC")
)
MODBUS_MAPPING = BlockSchema(
    "MAPPING",
    POLL_MAPPING_KEYS + _COMPACT + (topic_key("DESTINATION_TOPIC"),),
    children=(TAG,),
    named=True,
)

# ------------------------------------------------------------- event blocks


def event(*keys: Key, needs=(("SOURCE_TOPIC",),)) -> BlockSchema:
    return BlockSchema("EVENT", (filter_key("SOURCE_TOPIC"), *keys), needs, named=True)


SQL_EVENT = event(template("QUERY", required=True), topic_key())
CLEAN_EVENT = event(template("QUERY"), topic_key())

SQL_CONFIG = BlockSchema(
    "SQL_CONFIG",
    (
        # Without SERVER or CONNECTION_STRING the route connects to the local
        # database server, as the PostgreSQL and MySQL clients themselves do.
        text("SERVER", "HOST", default="localhost"),
        port(),
        text("DATABASE"),
        text("USERNAME"),
        text("PASSWORD"),
        flag("USE_SSL"),
        flag("TRUST_SERVER_CERTIFICATE"),
        text("SCHEMA"),
        text("CONNECTION_STRING"),
    ),
    needs=(),
)


def sql_route(name: str, default_port: int, *aliases: str) -> RouteSchema:
    keys = tuple(
        port(default=default_port) if k.name == "PORT" else k for k in SQL_CONFIG.keys
    )
    config = BlockSchema("SQL_CONFIG", keys, SQL_CONFIG.needs, aliases=aliases)
    return RouteSchema(name, "storage", (config, SQL_EVENT), ("SQL_CONFIG",), sql=True)


def device_route(
    name: str, config: BlockSchema, mapping=POLL_MAPPING, aliases=()
) -> RouteSchema:
    return RouteSchema(name, "industrial", (config, mapping), (config.kind,), aliases)


def open_route(name: str, family: str, *blocks: str) -> RouteSchema:
    known = tuple(BlockSchema(b, open=True) for b in blocks)
    return RouteSchema(name, family, known, open=True)


MODBUS_TCP_CONFIG = BlockSchema(
    "MODBUS_CONFIG",
    (
        text("HOST", "IP", required=True),
        port(default=502),
        integer("SLAVE_ID", 1, 247, "UNIT_ID", default=1),
        millis("CONNECTION_TIMEOUT", 5000),
        millis("READ_TIMEOUT", 1000),
        millis("WRITE_TIMEOUT", 1000),
        integer("RETRY_COUNT", 0, None),
        choice("CONNECTION_TYPE", ("TCP",), "TCP"),
    ),
)
MODBUS_SERIAL_CONFIG = BlockSchema(
    "MODBUS_CONFIG",
    (
        text("COM_PORT", "PORT", required=True),
        integer("SLAVE_ID", 1, 247, "UNIT_ID", default=1),
        integer("BAUD_RATE", 50, 4000000, default=9600),
        choice("PARITY", ("NONE", "ODD", "EVEN", "MARK", "SPACE"), "NONE"),
        integer("DATA_BITS", 5, 8, default=8),
        choice("STOP_BITS", ("ONE", "TWO", "ONE_POINT_FIVE", "1", "2", "1.5"), "ONE"),
        millis("CONNECTION_TIMEOUT", 5000),
        millis("READ_TIMEOUT", 1000),
        millis("WRITE_TIMEOUT", 1000),
        integer("RETRY_COUNT", 0, None),
        choice("CONNECTION_TYPE", ("SERIAL", "RTU"), "SERIAL"),
    ),
)
S7_CONFIG = BlockSchema(
    "S7_CONFIG",
    (
        text("IP", "HOST", required=True),
        # Not in the reference: ISO-on-TCP is port 102, and a PLC behind NAT
        # or a simulator listens elsewhere.
        port(default=102),
        choice(
            "CPU_TYPE",
            ("S7200", "S7300", "S7400", "S71200", "S71500", "LOGO"),
            "S71500",
        ),
        integer("RACK", 0, 7, default=0),
        integer("SLOT", 0, 31, default=1),
    ),
)
OPCUA_CONFIG = BlockSchema(
    "OPCUA_CONFIG",
    (
        text("ENDPOINT_URL", required=True),
        integer("AUTH_MODE", 0, 2, default=0),
        text("USERNAME"),
        text("PASSWORD"),
        flag("USE_SECURITY"),
        integer("SECURITY_POLICY", 0, 5),
        choice(
            "SECURITY_MODE", ("None", "Sign", "SignAndEncrypt", "0", "1", "2"), "None"
        ),
        flag("AUTO_ACCEPT_UNTRUSTED_CERTIFICATES"),
        flag("USE_BROWSE_PATH"),
    ),
)
ADS_CONFIG = BlockSchema(
    "ADS_CONFIG",
    (
        text("LOCAL_NET_ID"),
        text("LOCAL_ROUTE_TO_TARGET"),
        text("LOCAL_HOST_NAME"),
        text("TARGET_NET_ID", "AMS_NET_ID", required=True),
        text("TARGET_IP", "IP"),
        port("TARGET_PORT", 851, "PORT"),
        text("TARGET_ROUTE_TO_LOCAL"),
        text("USERNAME"),
        text("PASSWORD"),
        millis("TIMEOUT", 5000),
    ),
)
ALLEN_BRADLEY_CONFIG = BlockSchema(
    "ALLEN_BRADLEY_CONFIG",
    (
        text("IP", "HOST", required=True),
        integer("DEVICE_FAMILY", 0, 6, default=0),
        port(default=44818),
        integer("SLOT", 0, 31, default=0),
        text("PATH"),
        millis("TIMEOUT", 5000),
    ),
)
ETHERNETIP_CONFIG = BlockSchema(
    "ETHERNETIP_CONFIG",
    (
        text("IP", "HOST", required=True),
        port(default=44818),
        integer("SLOT", 0, 31, default=0),
        millis("POLLING_MS", 750),
        millis("CONNECTION_TIMEOUT", 5000),
        millis("READ_WRITE_TIMEOUT", 3000),
        integer("RETRY_ATTEMPTS", 0, None, default=3),
        integer("RETRY_TIME_SECONDS", 0, None, default=5),
    ),
)
FINS_CONFIG = BlockSchema(
    "FINS_CONFIG",
    (
        text("IP", "ADDRESS", "HOST", required=True),
        port(default=9600),
        choice("PROTOCOL", ("UDP", "TCP"), "UDP"),
        integer("LOCAL_NODE", 0, 254, "PC_NODE", default=0),
        integer("REMOTE_NODE", 0, 254, "PLC_NODE", default=0),
        millis("TIMEOUT", 2000),
        integer("RETRIES", 0, None, default=5),
        millis("POLLING", 200),
    ),
)
BACNET_CONFIG = BlockSchema(
    "BACNET_CONFIG",
    (
        text("IP", "HOST", required=True),
        port(default=47808),
        integer("DEVICE_ID", 0, 4194303, required=True),
        # Not in the reference: the route's own BACnet/IP address (host:port);
        # an ephemeral UDP port on every interface when not set.
        text("LOCAL_ADDRESS"),
    ),
)

# ------------------------------------------------------------- the catalogue

_ROUTES = (
    RouteSchema(
        "MQTT_BRIDGE",
        "system",
        (
            BlockSchema("SOURCE_CONFIG", BRIDGE_KEYS, BROKER_NEEDS, broker_self=True),
            BlockSchema(
                "DESTINATION_CONFIG", BRIDGE_KEYS, BROKER_NEEDS, broker_self=True
            ),
            BlockSchema(
                "MAPPING",
                (
                    filter_key("SOURCE_TOPIC", True),
                    filter_key("DESTINATION_TOPIC", True),
                    choice("DIRECTION", ("in", "out", "both"), required=True),
                ),
                named=True,
            ),
        ),
        ("SOURCE_CONFIG", "DESTINATION_CONFIG"),
    ),
    RouteSchema(
        "MQTT_CLUSTER",
        "system",
        (
            BlockSchema(
                "CLUSTER_CONFIG",
                BROKER_KEYS[1:] + (integer("MESSAGE_VALIDITY_SEC", 0, None),),
                BROKER_NEEDS,
            ),
        ),
        ("CLUSTER_CONFIG",),
    ),
    RouteSchema(
        "EMAIL",
        "notification",
        (
            BlockSchema(
                "SMTP_CONFIG",
                (
                    text("HOST", "SERVER", required=True),
                    port(default=587),
                    text("USERNAME"),
                    text("PASSWORD"),
                    flag("USE_TLS"),
                    text("FROM"),
                ),
            ),
            event(
                template("SUBJECT"),
                template("RECIPIENT", "TO", required=True),
                template("BODY"),
            ),
            # The older e-mail route: one mapping per mail, HTML body from a file.
            BlockSchema(
                "MAPPING",
                (
                    filter_key("SOURCE_TOPIC", True),
                    text("TEMPLATE_PATH"),
                    template("SUBJECT"),
                    template("RECIPIENT", "TO", required=True),
                    template("BODY"),
                ),
                named=True,
            ),
        ),
        ("SMTP_CONFIG",),
    ),
    RouteSchema(
        "REST_API",
        "integration",
        (
            BlockSchema(
                "REST_API_CONFIG",
                (
                    text("BASE_ADDRESS"),
                    flag("ENABLE_CLIENT", None),
                    flag("USE_SSL"),
                    text("AUTHORIZATION"),
                    port("SERVER_PORT"),
                ),
                needs=(("BASE_ADDRESS", "SERVER_PORT"),),
            ),
            BlockSchema(
                "EVENT",
                (
                    filter_key("SOURCE_TOPIC"),
                    topic_key(),
                    choice(
                        "METHOD",
                        ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"),
                        "GET",
                    ),
                    template("ENDPOINT"),
                    template("BODY"),
                ),
                needs=(("SOURCE_TOPIC", "DESTINATION_TOPIC"),),
                named=True,
            ),
        ),
        ("REST_API_CONFIG",),
    ),
    sql_route("POSTGRESQL", 5432, "POSTGRESQL_CONFIG"),
    sql_route("TIMESCALEDB", 5432, "POSTGRESQL_CONFIG", "TIMESCALEDB_CONFIG"),
    sql_route("MYSQL", 3306, "MYSQL_CONFIG"),
    sql_route("MARIADB", 3306, "MARIADB_CONFIG"),
    sql_route("SQLSERVER", 1433, "SQLSERVER_CONFIG"),
    RouteSchema(
        "MONGODB",
        "storage",
        (
            BlockSchema(
                "MONGODB_CONFIG",
                (
                    text("CONNECTION_STRING", required=True),
                    text("DATABASE", required=True),
                ),
            ),
            CLEAN_EVENT,
        ),
        ("MONGODB_CONFIG",),
    ),
    RouteSchema(
        "OPENSEARCH",
        "storage",
        (
            BlockSchema(
                "OPENSEARCH_CONFIG",
                (
                    text("BASE_URL"),
                    text("SERVER", "HOST"),
                    port(default=9200),
                    text("USERNAME"),
                    text("PASSWORD"),
                    flag("USE_SSL"),
                    flag("IGNORE_CERT_ERRORS"),
                    text("INDEX"),
                ),
                needs=(("BASE_URL", "SERVER"),),
            ),
            CLEAN_EVENT,
            # Older samples: one mapping per index, fed by a topic filter.
            BlockSchema(
                "MAPPING",
                (filter_key("TOPIC", False, "SOURCE_TOPIC"), text("INDEX")),
                needs=(("TOPIC",),),
                named=True,
            ),
        ),
        ("OPENSEARCH_CONFIG",),
        aliases=("ELASTIC",),
    ),
    RouteSchema(
        "FILE_STORAGE",
        "storage",
        (
            BlockSchema(
                "FILE_STORAGE_CONFIG",
                (
                    text("STORAGE_DIR", "PATH", required=True),
                    template("FILE_PATTERN"),
                    choice("FORMAT", ("CSV", "JSON"), "CSV"),
                    text("CSV_DELIMITER", default=","),
                    flag("APPEND"),
                    flag("INCLUDE_TIMESTAMP"),
                    integer("MAX_RECORDS", 1, None, default=10000),
                    text("DATE_FORMAT", default="yyyy-MM-dd HH:mm:ss"),
                ),
            ),
            CLEAN_EVENT,
            BlockSchema(
                "MAPPING",
                (
                    filter_key("TOPIC", False, "SOURCE_TOPIC"),
                    text("TABLE_NAME", "TABLE"),
                ),
                needs=(("TOPIC",),),
                named=True,
            ),
        ),
        ("FILE_STORAGE_CONFIG",),
    ),
    open_route("KAFKA", "pipeline", "KAFKA_CONFIG", "EVENT", "MAPPING"),
    open_route("CRATEDB", "storage"),
    open_route("SNOWFLAKE", "storage"),
    open_route("VIDEO_INPUT", "media"),
    open_route("VIDEO_OUTPUT", "media"),
    device_route("MODBUS_TCP", MODBUS_TCP_CONFIG, MODBUS_MAPPING, ("MODBUS",)),
    device_route("MODBUS_SERIAL", MODBUS_SERIAL_CONFIG),
    device_route("SIEMENS_S7", S7_CONFIG, aliases=("S7",)),
    device_route("OPCUA", OPCUA_CONFIG),
    device_route("ADS", ADS_CONFIG),
    device_route("ALLEN_BRADLEY", ALLEN_BRADLEY_CONFIG),
    device_route("ETHERNETIP", ETHERNETIP_CONFIG),
    device_route("FINS", FINS_CONFIG),
    device_route("BACNET", BACNET_CONFIG),
    # A bare `DEFINE ROUTE X WITH TYPE MCP` appears in older samples; the
    # block is optional, as it is for the AI routes whose keys all default.
    RouteSchema(
        "MCP",
        "ai",
        (
            BlockSchema(
                "MCP_CONFIG",
                (
                    text("SERVER_COMMAND", "COMMAND"),
                    text("SERVER_ARGUMENTS", "ARGS"),
                    text("CLIENT_NAME", default="CorefluxBroker"),
                    choice("TRANSPORT", ("stdio", "sse", "http"), "stdio"),
                    text("URL"),
                ),
                needs=(("SERVER_COMMAND", "URL"),),
            ),
        ),
    ),
    RouteSchema(
        "AGENT",
        "ai",
        (
            BlockSchema(
                "AGENT_CONFIG",
                (
                    choice(
                        "PROVIDER",
                        ("ollama", "openai", "anthropic", "mistral"),
                        "ollama",
                    ),
                    text("MODEL", default="llama3.2"),
                    text("API_KEY"),
                    text("BASE_URL"),
                    text("SYSTEM_PROMPT"),
                    flag("BROKER_TOOLS"),
                    text("MCP_ROUTES"),
                    integer("MAX_ITERATIONS", 1, None, default=10),
                    number("TEMPERATURE", 0, 2, default=0.7),
                    integer("MAX_TOKENS", 1, None, default=4096),
                    topic_key("INTERACTION_TOPIC"),
                ),
            ),
        ),
    ),
    RouteSchema(
        "LLM",
        "ai",
        (
            BlockSchema(
                "LLM_CONFIG",
                (
                    text("BASE_URL"),
                    text("MODEL"),
                    text("API_KEY"),
                    number("TEMPERATURE", 0, 2, default=0.7),
                    integer("MAX_TOKENS", 1, None, default=4096),
                ),
            ),
        ),
    ),
    RouteSchema(
        "BARCODE",
        "media",
        (
            BlockSchema("BARCODE_CONFIG", (text("SUPPORTED_FORMATS"),)),
            event(
                topic_key(),
                choice("MODE", ("DECODE", "ENCODE"), "DECODE"),
                flag("ENABLE_ANNOTATION"),
                topic_key("ANNOTATED_IMAGE_TOPIC"),
            ),
        ),
    ),
)

SQL_TYPES = frozenset(r.type for r in _ROUTES if r.sql)


def _with_shared_blocks(route: RouteSchema) -> RouteSchema:
    if route.open:
        return route
    blocks = route.blocks + (ROUTE_CONFIG, MQTT_CONFIG)
    return RouteSchema(
        route.type,
        route.family,
        blocks,
        route.required_blocks,
        route.aliases,
        False,
        route.sql,
    )


CATALOGUE: dict[str, RouteSchema] = {}
for _route in _ROUTES:
    for _spelling in (_route.type, *_route.aliases):
        CATALOGUE[_spelling] = _with_shared_blocks(_route)

ROUTE_TYPES = tuple(sorted(CATALOGUE))


def route_schema(route_type: str | None) -> RouteSchema | None:
    """The schema of a `WITH TYPE` spelling (aliases included), or None."""
    return CATALOGUE.get(route_type or "")


# ------------------------------------------------------------- resolution


@dataclass(frozen=True)
class Default:
    """A value the source leaves out: the documented default of its key."""

    value: object


@dataclass(frozen=True)
class ResolvedBlock:
    """One block's settings in canonical keys, defaults filled in."""

    kind: str
    name: str | None
    settings: dict[str, ast.SettingValue | Default] = field(default_factory=dict)


def blocks_of(route: ast.Route, block_kind: str) -> list[ast.RouteBlock]:
    """The route's blocks of one kind, aliases included, in source order."""
    schema = route_schema(route.route_type)
    wanted = schema.block(block_kind) if schema else None
    spellings = {block_kind, *(wanted.aliases if wanted else ())}
    if wanted is not None:
        spellings.add(wanted.kind)
    return [
        i for i in route.items if isinstance(i, ast.RouteBlock) and i.kind in spellings
    ]


def resolve_block(schema: BlockSchema | None, block: ast.RouteBlock | None, extra=()):
    """Settings of ``block`` (and ``extra`` settings) keyed canonically; the
    first of two settings of one key wins, as the checker reports the second."""
    settings: dict[str, ast.SettingValue | Default] = {}
    items = (block.items if block else ()) + tuple(extra)
    for item in items:
        if isinstance(item, ast.Setting):
            key = schema.key(item.key) if schema else None
            settings.setdefault(key.name if key else item.key, item.value)
    for key in schema.keys if schema else ():
        if key.name not in settings and key.default is not None:
            settings[key.name] = Default(key.default)
    name = block.name.text if block and block.name else None
    return ResolvedBlock(schema.kind if schema else "", name, settings)


def resolve_settings(
    route: ast.Route, block_kind: str
) -> dict[str, ast.SettingValue | Default]:
    """The settings of the route's first ``block_kind`` block, canonical keys,
    defaults filled; settings written directly in the route count towards the
    type's own config block."""
    schema = route_schema(route.route_type)
    block_schema = schema.block(block_kind) if schema else None
    found = blocks_of(route, block_kind)
    extra = ()
    if schema and block_schema is not None and block_schema is schema.primary:
        extra = tuple(i for i in route.items if isinstance(i, ast.Setting))
    return resolve_block(block_schema, found[0] if found else None, extra).settings


def resolve_named_blocks(route: ast.Route, block_kind: str) -> list[ResolvedBlock]:
    """Every MAPPING or EVENT block of the route, each resolved (TAGs via
    ``resolve_block`` with the mapping schema's ``child("TAG")``)."""
    schema = route_schema(route.route_type)
    block_schema = schema.block(block_kind) if schema else None
    return [resolve_block(block_schema, b) for b in blocks_of(route, block_kind)]
