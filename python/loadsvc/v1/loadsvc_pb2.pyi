from google.protobuf import struct_pb2 as _struct_pb2
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

class LoadConfig(_message.Message):
    __slots__ = ["chunk_size", "dry_run", "duplicates", "mode", "pk", "plan_only", "request_id", "schema", "table"]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PK_FIELD_NUMBER: _ClassVar[int]
    PLAN_ONLY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    chunk_size: int
    dry_run: bool
    duplicates: Duplicates
    mode: Mode
    pk: _containers.RepeatedScalarFieldContainer[str]
    plan_only: bool
    request_id: str
    schema: str
    table: str
    def __init__(self, table: _Optional[str] = ..., schema: _Optional[str] = ..., mode: _Optional[_Union[Mode, str]] = ..., pk: _Optional[_Iterable[str]] = ..., plan_only: bool = ..., chunk_size: _Optional[int] = ..., duplicates: _Optional[_Union[Duplicates, str]] = ..., request_id: _Optional[str] = ..., dry_run: bool = ...) -> None: ...

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
    __slots__ = ["batches", "deleted", "dry_run", "duplicates_dropped", "inserted", "mode", "plan_only", "replayed", "rows", "skipped", "skipped_columns", "sql_script", "statements", "table", "updated"]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_DROPPED_FIELD_NUMBER: _ClassVar[int]
    INSERTED_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PLAN_ONLY_FIELD_NUMBER: _ClassVar[int]
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
    mode: Mode
    plan_only: bool
    replayed: bool
    rows: int
    skipped: int
    skipped_columns: _containers.RepeatedScalarFieldContainer[str]
    sql_script: str
    statements: _containers.RepeatedCompositeFieldContainer[Statement]
    table: str
    updated: int
    def __init__(self, table: _Optional[str] = ..., mode: _Optional[_Union[Mode, str]] = ..., deleted: _Optional[int] = ..., inserted: _Optional[int] = ..., batches: _Optional[int] = ..., plan_only: bool = ..., statements: _Optional[_Iterable[_Union[Statement, _Mapping]]] = ..., sql_script: _Optional[str] = ..., skipped_columns: _Optional[_Iterable[str]] = ..., updated: _Optional[int] = ..., skipped: _Optional[int] = ..., duplicates_dropped: _Optional[int] = ..., rows: _Optional[int] = ..., replayed: bool = ..., dry_run: bool = ...) -> None: ...

class LoadStreamRequest(_message.Message):
    __slots__ = ["config", "rows", "typed_rows"]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TYPED_ROWS_FIELD_NUMBER: _ClassVar[int]
    config: LoadConfig
    rows: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    typed_rows: TypedRows
    def __init__(self, config: _Optional[_Union[LoadConfig, _Mapping]] = ..., rows: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., typed_rows: _Optional[_Union[TypedRows, _Mapping]] = ...) -> None: ...

class Statement(_message.Message):
    __slots__ = ["rows", "sql"]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SQL_FIELD_NUMBER: _ClassVar[int]
    rows: int
    sql: str
    def __init__(self, sql: _Optional[str] = ..., rows: _Optional[int] = ...) -> None: ...

class TypedColumn(_message.Message):
    __slots__ = ["bools", "bytes_values", "float64s", "int64s", "json_values", "name", "nulls", "texts", "timestamp_micros"]
    BOOLS_FIELD_NUMBER: _ClassVar[int]
    BYTES_VALUES_FIELD_NUMBER: _ClassVar[int]
    FLOAT64S_FIELD_NUMBER: _ClassVar[int]
    INT64S_FIELD_NUMBER: _ClassVar[int]
    JSON_VALUES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NULLS_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MICROS_FIELD_NUMBER: _ClassVar[int]
    bools: _containers.RepeatedScalarFieldContainer[bool]
    bytes_values: _containers.RepeatedScalarFieldContainer[bytes]
    float64s: _containers.RepeatedScalarFieldContainer[float]
    int64s: _containers.RepeatedScalarFieldContainer[int]
    json_values: _containers.RepeatedScalarFieldContainer[str]
    name: str
    nulls: _containers.RepeatedScalarFieldContainer[bool]
    texts: _containers.RepeatedScalarFieldContainer[str]
    timestamp_micros: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., nulls: _Optional[_Iterable[bool]] = ..., int64s: _Optional[_Iterable[int]] = ..., float64s: _Optional[_Iterable[float]] = ..., bools: _Optional[_Iterable[bool]] = ..., texts: _Optional[_Iterable[str]] = ..., bytes_values: _Optional[_Iterable[bytes]] = ..., timestamp_micros: _Optional[_Iterable[int]] = ..., json_values: _Optional[_Iterable[str]] = ...) -> None: ...

class TypedRows(_message.Message):
    __slots__ = ["columns"]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedCompositeFieldContainer[TypedColumn]
    def __init__(self, columns: _Optional[_Iterable[_Union[TypedColumn, _Mapping]]] = ...) -> None: ...

class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Duplicates(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
