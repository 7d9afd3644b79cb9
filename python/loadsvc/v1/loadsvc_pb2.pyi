from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
DUPLICATES_KEEP_ALL: Duplicates
DUPLICATES_KEEP_LAST: Duplicates
DUPLICATES_REFUSE: Duplicates
DUPLICATES_UNSPECIFIED: Duplicates
MODE_APPEND: Mode
MODE_DELETE_INSERT: Mode
MODE_FILL_NULL_ONLY: Mode
MODE_INSERT_MISSING: Mode
MODE_REPLACE: Mode
MODE_UNSPECIFIED: Mode
MODE_UPSERT: Mode
SESSION_STATE_COMMITTED: SessionState
SESSION_STATE_OPEN: SessionState
SESSION_STATE_UNSPECIFIED: SessionState

class AbortLoadRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class AbortLoadResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class AppendRowsRequest(_message.Message):
    __slots__ = ["offset", "rows", "session_id", "typed_rows", "writer"]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TYPED_ROWS_FIELD_NUMBER: _ClassVar[int]
    WRITER_FIELD_NUMBER: _ClassVar[int]
    offset: int
    rows: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    session_id: str
    typed_rows: TypedRows
    writer: str
    def __init__(self, session_id: _Optional[str] = ..., writer: _Optional[str] = ..., offset: _Optional[int] = ..., rows: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., typed_rows: _Optional[_Union[TypedRows, _Mapping]] = ...) -> None: ...

class AppendRowsResponse(_message.Message):
    __slots__ = ["next_offset", "rows", "writer"]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    WRITER_FIELD_NUMBER: _ClassVar[int]
    next_offset: int
    rows: int
    writer: str
    def __init__(self, writer: _Optional[str] = ..., next_offset: _Optional[int] = ..., rows: _Optional[int] = ...) -> None: ...

class BeginLoadRequest(_message.Message):
    __slots__ = ["config", "ttl"]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    config: LoadConfig
    ttl: _duration_pb2.Duration
    def __init__(self, config: _Optional[_Union[LoadConfig, _Mapping]] = ..., ttl: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CommitLoadRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class GetLoadSessionRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class ListLoadsRequest(_message.Message):
    __slots__ = ["page_size", "page_token", "schema", "since", "status", "table", "until"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    schema: str
    since: _timestamp_pb2.Timestamp
    status: str
    table: str
    until: _timestamp_pb2.Timestamp
    def __init__(self, schema: _Optional[str] = ..., table: _Optional[str] = ..., status: _Optional[str] = ..., since: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListLoadsResponse(_message.Message):
    __slots__ = ["loads", "next_page_token"]
    LOADS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    loads: _containers.RepeatedCompositeFieldContainer[LoadRecord]
    next_page_token: str
    def __init__(self, loads: _Optional[_Iterable[_Union[LoadRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class LoadConfig(_message.Message):
    __slots__ = ["chunk_size", "dry_run", "duplicates", "labels", "max_deleted_rows", "max_rejected_rows", "mode", "pk", "plan_only", "request_id", "schema", "stamp_column", "table"]
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    MAX_DELETED_ROWS_FIELD_NUMBER: _ClassVar[int]
    MAX_REJECTED_ROWS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PK_FIELD_NUMBER: _ClassVar[int]
    PLAN_ONLY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    STAMP_COLUMN_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    chunk_size: int
    dry_run: bool
    duplicates: Duplicates
    labels: _containers.ScalarMap[str, str]
    max_deleted_rows: int
    max_rejected_rows: int
    mode: Mode
    pk: _containers.RepeatedScalarFieldContainer[str]
    plan_only: bool
    request_id: str
    schema: str
    stamp_column: str
    table: str
    def __init__(self, table: _Optional[str] = ..., schema: _Optional[str] = ..., mode: _Optional[_Union[Mode, str]] = ..., pk: _Optional[_Iterable[str]] = ..., plan_only: bool = ..., chunk_size: _Optional[int] = ..., duplicates: _Optional[_Union[Duplicates, str]] = ..., request_id: _Optional[str] = ..., dry_run: bool = ..., max_rejected_rows: _Optional[int] = ..., labels: _Optional[_Mapping[str, str]] = ..., stamp_column: _Optional[str] = ..., max_deleted_rows: _Optional[int] = ...) -> None: ...

class LoadRecord(_message.Message):
    __slots__ = ["code", "deleted", "duration", "finished_at", "inserted", "labels", "load_id", "message", "mode", "peer", "principal", "rejected", "request_id", "rows", "schema", "skipped", "sqlstate", "started_at", "status", "table", "updated"]
    class LabelsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CODE_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    INSERTED_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    LOAD_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    SQLSTATE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    code: str
    deleted: int
    duration: _duration_pb2.Duration
    finished_at: _timestamp_pb2.Timestamp
    inserted: int
    labels: _containers.ScalarMap[str, str]
    load_id: str
    message: str
    mode: Mode
    peer: str
    principal: str
    rejected: int
    request_id: str
    rows: int
    schema: str
    skipped: int
    sqlstate: str
    started_at: _timestamp_pb2.Timestamp
    status: str
    table: str
    updated: int
    def __init__(self, load_id: _Optional[str] = ..., status: _Optional[str] = ..., principal: _Optional[str] = ..., peer: _Optional[str] = ..., schema: _Optional[str] = ..., table: _Optional[str] = ..., mode: _Optional[_Union[Mode, str]] = ..., request_id: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., rows: _Optional[int] = ..., inserted: _Optional[int] = ..., updated: _Optional[int] = ..., deleted: _Optional[int] = ..., skipped: _Optional[int] = ..., rejected: _Optional[int] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., code: _Optional[str] = ..., sqlstate: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class LoadRequest(_message.Message):
    __slots__ = ["config", "rows", "typed_rows"]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TYPED_ROWS_FIELD_NUMBER: _ClassVar[int]
    config: LoadConfig
    rows: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    typed_rows: TypedRows
    def __init__(self, config: _Optional[_Union[LoadConfig, _Mapping]] = ..., rows: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., typed_rows: _Optional[_Union[TypedRows, _Mapping]] = ...) -> None: ...

class LoadResponse(_message.Message):
    __slots__ = ["batches", "deleted", "dry_run", "duplicates_dropped", "inserted", "load_id", "mode", "plan_only", "rejected", "rejected_rows", "replayed", "rows", "skipped", "skipped_columns", "sql_script", "statements", "table", "updated"]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_DROPPED_FIELD_NUMBER: _ClassVar[int]
    INSERTED_FIELD_NUMBER: _ClassVar[int]
    LOAD_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PLAN_ONLY_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_ROWS_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    SQL_SCRIPT_FIELD_NUMBER: _ClassVar[int]
    STATEMENTS_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    batches: int
    deleted: int
    dry_run: bool
    duplicates_dropped: int
    inserted: int
    load_id: str
    mode: Mode
    plan_only: bool
    rejected: _containers.RepeatedCompositeFieldContainer[RowError]
    rejected_rows: int
    replayed: bool
    rows: int
    skipped: int
    skipped_columns: _containers.RepeatedScalarFieldContainer[str]
    sql_script: str
    statements: _containers.RepeatedCompositeFieldContainer[Statement]
    table: str
    updated: int
    def __init__(self, table: _Optional[str] = ..., mode: _Optional[_Union[Mode, str]] = ..., deleted: _Optional[int] = ..., inserted: _Optional[int] = ..., batches: _Optional[int] = ..., plan_only: bool = ..., statements: _Optional[_Iterable[_Union[Statement, _Mapping]]] = ..., sql_script: _Optional[str] = ..., skipped_columns: _Optional[_Iterable[str]] = ..., updated: _Optional[int] = ..., skipped: _Optional[int] = ..., duplicates_dropped: _Optional[int] = ..., rows: _Optional[int] = ..., replayed: bool = ..., dry_run: bool = ..., rejected_rows: _Optional[int] = ..., rejected: _Optional[_Iterable[_Union[RowError, _Mapping]]] = ..., load_id: _Optional[str] = ...) -> None: ...

class LoadSession(_message.Message):
    __slots__ = ["committed", "config", "expires_at", "result", "rows", "session_id", "state"]
    class CommittedEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    committed: _containers.ScalarMap[str, int]
    config: LoadConfig
    expires_at: _timestamp_pb2.Timestamp
    result: LoadResponse
    rows: int
    session_id: str
    state: SessionState
    def __init__(self, session_id: _Optional[str] = ..., expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[SessionState, str]] = ..., rows: _Optional[int] = ..., committed: _Optional[_Mapping[str, int]] = ..., config: _Optional[_Union[LoadConfig, _Mapping]] = ..., result: _Optional[_Union[LoadResponse, _Mapping]] = ...) -> None: ...

class LoadStreamRequest(_message.Message):
    __slots__ = ["config", "rows", "typed_rows"]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TYPED_ROWS_FIELD_NUMBER: _ClassVar[int]
    config: LoadConfig
    rows: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    typed_rows: TypedRows
    def __init__(self, config: _Optional[_Union[LoadConfig, _Mapping]] = ..., rows: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., typed_rows: _Optional[_Union[TypedRows, _Mapping]] = ...) -> None: ...

class RowError(_message.Message):
    __slots__ = ["column", "constraint", "message", "row", "sqlstate", "value"]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    SQLSTATE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    column: str
    constraint: str
    message: str
    row: int
    sqlstate: str
    value: str
    def __init__(self, row: _Optional[int] = ..., column: _Optional[str] = ..., value: _Optional[str] = ..., sqlstate: _Optional[str] = ..., message: _Optional[str] = ..., constraint: _Optional[str] = ...) -> None: ...

class RowErrors(_message.Message):
    __slots__ = ["errors", "truncated"]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    errors: _containers.RepeatedCompositeFieldContainer[RowError]
    truncated: bool
    def __init__(self, errors: _Optional[_Iterable[_Union[RowError, _Mapping]]] = ..., truncated: bool = ...) -> None: ...

class Statement(_message.Message):
    __slots__ = ["rows", "sql"]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SQL_FIELD_NUMBER: _ClassVar[int]
    rows: int
    sql: str
    def __init__(self, sql: _Optional[str] = ..., rows: _Optional[int] = ...) -> None: ...

class TypedColumn(_message.Message):
    __slots__ = ["bools", "bytes_values", "float64s", "int64s", "json_values", "name", "nulls", "text_block", "texts", "timestamp_micros"]
    BOOLS_FIELD_NUMBER: _ClassVar[int]
    BYTES_VALUES_FIELD_NUMBER: _ClassVar[int]
    FLOAT64S_FIELD_NUMBER: _ClassVar[int]
    INT64S_FIELD_NUMBER: _ClassVar[int]
    JSON_VALUES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NULLS_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    TEXT_BLOCK_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MICROS_FIELD_NUMBER: _ClassVar[int]
    bools: _containers.RepeatedScalarFieldContainer[bool]
    bytes_values: _containers.RepeatedScalarFieldContainer[bytes]
    float64s: _containers.RepeatedScalarFieldContainer[float]
    int64s: _containers.RepeatedScalarFieldContainer[int]
    json_values: _containers.RepeatedScalarFieldContainer[str]
    name: str
    nulls: _containers.RepeatedScalarFieldContainer[bool]
    text_block: bytes
    texts: _containers.RepeatedScalarFieldContainer[str]
    timestamp_micros: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., nulls: _Optional[_Iterable[bool]] = ..., int64s: _Optional[_Iterable[int]] = ..., float64s: _Optional[_Iterable[float]] = ..., bools: _Optional[_Iterable[bool]] = ..., texts: _Optional[_Iterable[str]] = ..., bytes_values: _Optional[_Iterable[bytes]] = ..., timestamp_micros: _Optional[_Iterable[int]] = ..., json_values: _Optional[_Iterable[str]] = ..., text_block: _Optional[bytes] = ...) -> None: ...

class TypedRows(_message.Message):
    __slots__ = ["columns"]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedCompositeFieldContainer[TypedColumn]
    def __init__(self, columns: _Optional[_Iterable[_Union[TypedColumn, _Mapping]]] = ...) -> None: ...

class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Duplicates(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class SessionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
