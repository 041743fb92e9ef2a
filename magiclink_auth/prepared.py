"""Hot-path queries compiled once per database, then run with new values.

Building a queryset and compiling it to SQL costs more CPU than running it does on a small indexed lookup
(bench/profile_signin.py: a third of a verify's CPU went to building and compiling the link's
``select_related`` query). A prepared query is built once per database alias with marker values in place
of the real ones and compiled once; each call then only substitutes its values (each prepared for the
database by its field, as the ORM prepares it) and executes. The SQL is the ORM's own, and the rows become
objects through the queryset's own iterable (converters, ``select_related``), so a caller gets what the
queryset would have given it.

A query whose compiled parameters do not hold each marker exactly once stays on the ordinary ORM path:
slower, never different.
"""

from __future__ import annotations

import copy
import threading
import uuid
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import connections, router, transaction
from django.db.models import signals
from django.db.models.sql import InsertQuery, UpdateQuery
from django.db.models.sql.constants import ROW_COUNT

__all__ = ["Prepared", "PreparedCreate", "PreparedInsert", "PreparedUpdate"]

_MARKER_TIME = datetime(1901, 1, 1, tzinfo=UTC)


class _Query:
    """The template's query, answering ``get_compiler`` with the compiler of one call."""

    def __init__(self, query, compiler):
        self._query = query
        self._compiler = compiler

    def get_compiler(self, using=None, connection=None, elide_empty=True):
        return self._compiler

    def __getattr__(self, name):
        return getattr(self._query, name)


class _Compiled:
    def __init__(self, queryset, compiler, sql: str, params: tuple, positions: dict[str, int], many: bool):
        self.queryset = queryset
        self.many = many  # an INSERT's compiler gives a list of statements (here one)
        self.compiler = compiler
        self.sql = sql
        self.params = params
        self.positions = positions
        # Converters hold the connection's own methods: kept per connection (one per thread).
        self.converters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Prepared:
    """A read: ``build(**values)`` returns the queryset; ``fields`` names, for each value, the model field
    it is compared with (it is prepared for the database as that field prepares it).

        by_hash = Prepared(lambda token_hash: PendingLink.objects.filter(token_hash=token_hash),
                           token_hash=(PendingLink, "token_hash"))
        by_hash.objects(token_hash="ab12...")     # [<PendingLink>] or []
    """

    def __init__(self, build: Callable[..., Any], **fields: tuple[Any, str]):
        self._build = build
        self._fields = {name: model._meta.get_field(field) for name, (model, field) in fields.items()}
        self._model = next(iter(fields.values()))[0]
        self._compiled: dict[str, _Compiled | None] = {}
        self._lock = threading.Lock()

    write = False

    def _marker(self, name: str, index: int):
        field = self._fields[name]
        kind = (field.target_field if field.is_relation else field).get_internal_type()
        if kind == "DateTimeField":
            return _MARKER_TIME.replace(microsecond=index + 1)
        if kind in {"CharField", "TextField"}:
            return f"\x1emagiclink-prepared-{index}\x1e"
        if kind in {"AutoField", "BigAutoField", "IntegerField", "BigIntegerField", "PositiveIntegerField"}:
            return -987_654_321 - index
        if kind == "UUIDField":  # a custom user model's primary key, say
            return uuid.UUID(int=0x6D61_6769_636C_696E_6B00_0000_0000_0000 + index)
        return None  # a kind with no marker here (a site's own primary key type): the query stays on the ORM

    def _template(self, **markers):
        """(the queryset the rows come through, the query to compile)."""
        queryset = self._build(**markers)
        return queryset, queryset.query

    def _compile(self, alias: str) -> _Compiled | None:
        markers = {name: self._marker(name, index) for index, name in enumerate(self._fields)}
        if None in markers.values():
            return None
        queryset, query = self._template(**markers)
        connection = connections[alias]
        compiler = query.get_compiler(using=alias)
        statements = compiler.as_sql()
        many = isinstance(statements, list)
        if many and len(statements) != 1:
            return None
        sql, params = statements[0] if many else statements
        params = tuple(params)
        positions = {}
        for name, marker in markers.items():
            prepared = self._fields[name].get_db_prep_value(marker, connection, prepared=False)
            found = [index for index, value in enumerate(params) if value == prepared]
            if len(found) != 1:
                return None
            positions[name] = found[0]
        return _Compiled(queryset, compiler, sql, params, positions, many)

    def _prepared(self, using: str | None) -> tuple[str, _Compiled | None]:
        alias = using or (router.db_for_write(self._model) if self.write else router.db_for_read(self._model))
        try:
            return alias, self._compiled[alias]
        except KeyError:
            with self._lock:
                if alias not in self._compiled:
                    self._compiled[alias] = self._compile(alias)
            return alias, self._compiled[alias]

    def _compiler(self, compiled: _Compiled, alias: str, values: dict):
        connection = connections[alias]
        params = list(compiled.params)
        for name, position in compiled.positions.items():
            params[position] = self._fields[name].get_db_prep_value(values[name], connection, prepared=False)
        compiler = copy.copy(compiled.compiler)
        compiler.connection = connection
        statement = (compiled.sql, tuple(params))
        answer = [statement] if compiled.many else statement
        compiler.as_sql = lambda *args, **kwargs: answer
        get_converters = compiled.compiler.__class__.get_converters

        def converters(expressions):
            try:
                return compiled.converters[connection]
            except KeyError:
                found = compiled.converters[connection] = get_converters(compiler, expressions)
                return found

        compiler.get_converters = converters
        return compiler

    def objects(self, *, using: str | None = None, **values) -> list:
        """The rows of the query with ``values``, as its queryset would give them (models, tuples...)."""
        alias, compiled = self._prepared(using)
        if compiled is None:
            return list(self._build(**values).using(alias))
        # A shallow copy by hand: copy.copy would pickle the queryset's state, which evaluates it.
        template = compiled.queryset
        queryset = template.__class__.__new__(template.__class__)
        queryset.__dict__.update(template.__dict__)
        queryset._db = alias
        queryset._result_cache = None
        queryset._query = _Query(compiled.queryset.query, self._compiler(compiled, alias, values))
        return list(queryset._iterable_class(queryset))


class PreparedUpdate(Prepared):
    """``queryset.update(**changes)``, prepared: ``build(**values)`` returns ``(queryset, changes)``.

        void = PreparedUpdate(lambda pk, now: (PendingLink.objects.filter(pk=pk), {"voided_at": now}),
                              pk=(PendingLink, "id"), now=(PendingLink, "voided_at"))
        void.update(pk=7, now=timezone.now())    # rows changed, as ``update`` counts them
    """

    write = True

    def __init__(self, build: Callable[..., Any], **fields: tuple[Any, str]):
        super().__init__(build, **fields)
        self._readers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _template(self, **markers):
        queryset, changes = self._build(**markers)
        query = queryset.query.chain(UpdateQuery)  # as QuerySet.update builds it
        query.add_update_values(changes)
        query.annotations = {}
        return queryset, query

    def update(self, *, using: str | None = None, inserts: Sequence[tuple[str, tuple]] = (), **values) -> int:
        """Rows changed, as ``update`` counts them. ``inserts`` (``PreparedCreate.insert``) commit with the
        change: on PostgreSQL in the same statement (``WITH ... AS (INSERT ...) UPDATE ...``), one round trip
        with no BEGIN or COMMIT of its own, the rows written in an order of the database's; elsewhere in one
        transaction. The inserts are written whether or not a row changed, as an update and then the inserts
        would be."""
        alias, compiled = self._prepared(using)
        if inserts:
            return self._update_with(alias, compiled, values, inserts)
        if compiled is None:
            queryset, changes = self._build(**values)
            return queryset.using(alias).update(**changes)
        compiler = self._compiler(compiled, alias, values)
        with transaction.mark_for_rollback_on_error(using=alias):
            return compiler.execute_sql(ROW_COUNT)

    def _update_sql(self, alias: str, compiled: _Compiled | None, values: dict) -> tuple[str, tuple]:
        if compiled is None:
            queryset, changes = self._build(**values)
            query = queryset.query.chain(UpdateQuery)
            query.add_update_values(changes)
            sql, params = query.get_compiler(alias).as_sql()
        else:
            sql, params = self._compiler(compiled, alias, values).as_sql()
        return sql, tuple(params)

    def _update_with(self, alias: str, compiled: _Compiled | None, values: dict, inserts) -> int:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            with transaction.atomic(using=alias):
                changed = self.update(using=alias, **values)
                with connection.cursor() as cursor:
                    for sql, params in inserts:
                        cursor.execute(sql, params)
                return changed
        sql, params = self._update_sql(alias, compiled, values)
        ctes = ", ".join(f"inserted_{n} AS ({insert_sql})" for n, (insert_sql, _) in enumerate(inserts))
        inserted_params = tuple(value for _, insert_params in inserts for value in insert_params)
        with transaction.mark_for_rollback_on_error(using=alias), connection.cursor() as cursor:
            cursor.execute(f"WITH {ctes} {sql}", inserted_params + params)
            return cursor.rowcount

    def returning(self, *, using: str | None = None, **values) -> list:
        """``update`` returning the rows it changed, as model instances, in one statement
        (``UPDATE ... RETURNING``: PostgreSQL, SQLite 3.35+; the caller checks the database can)."""
        alias, compiled = self._prepared(using)
        connection = connections[alias]
        sql, params = self._update_sql(alias, compiled, values)
        model = self._model
        fields = model._meta.concrete_fields
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in fields)
        with transaction.mark_for_rollback_on_error(using=alias), connection.cursor() as cursor:
            cursor.execute(f"{sql} RETURNING {columns}", params)
            rows = cursor.fetchall()
        if not rows:
            return []
        try:
            reader, converters = self._readers[connection]
        except KeyError:  # converters hold the connection's methods: kept per connection
            reader = model._base_manager.db_manager(alias).all().query.get_compiler(alias)
            converters = reader.get_converters([field.get_col(model._meta.db_table) for field in fields])
            self._readers[connection] = reader, converters
        if converters:
            rows = reader.apply_converters(rows, converters)
        names = [field.attname for field in fields]
        return [model.from_db(alias, names, tuple(row)) for row in rows]


class PreparedInsert(Prepared):
    """An ``InsertQuery`` of one row (an upsert, say), prepared: ``build(**values)`` returns the query, its
    values inserted (``query.insert_values``), as ``bulk_create`` builds it."""

    write = True

    def _template(self, **markers):
        return None, self._build(**markers)

    def execute(self, *, using: str | None = None, **values) -> None:
        alias, compiled = self._prepared(using)
        compiler = (self._build(**values).get_compiler(using=alias) if compiled is None
                    else self._compiler(compiled, alias, values))
        with transaction.mark_for_rollback_on_error(using=alias):
            compiler.execute_sql(None)


class PreparedCreate:
    """``Model.objects.create(**values)`` with the INSERT compiled once per database: for the rows every
    sign-in writes (the link, the session, the audit events), where assembling the INSERT cost more CPU than
    running it. The object is made, its values prepared (``pre_save``, ``get_db_prep_save``) and its
    database-set fields read back by the ORM's own compiler, and ``pre_save``/``post_save`` are sent, as a
    save sends them; only the SQL text is reused. A model whose INSERT is not a plain ``%s`` per field (a
    field with its own placeholder) is created by the ORM, as before.

        _SESSION_ROW = PreparedCreate(RefreshSession)
        session = _SESSION_ROW.create(user=user, ...)
    """

    def __init__(self, model):
        self.model = model
        self._compiled: dict[tuple[str, bool, bool], tuple | None] = {}  # (alias, new key, RETURNING)
        self._lock = threading.Lock()

    def _fields(self, template) -> list:
        meta = self.model._meta
        return [f for f in meta.local_concrete_fields
                if not f.generated and (template.pk is not None or f is not meta.auto_field)]

    def _compile(self, alias: str, template, returning: bool = True) -> tuple | None:
        fields = self._fields(template)
        if any(hasattr(field, "get_placeholder") for field in fields):
            return None
        query = InsertQuery(self.model)
        query.insert_values(fields, [template])
        compiler = query.get_compiler(using=alias)
        returning = self.model._meta.db_returning_fields if returning else None
        compiler.returning_fields = returning
        statements = compiler.as_sql()
        if len(statements) != 1 or len(statements[0][1]) != len(fields) + len(compiler.returning_params):
            return None  # a value compiled to SQL of its own (a database default, say)
        query.objs = [None]  # the compiler counts the rows; this call's object is not kept
        return statements[0][0], fields, returning, compiler

    def _compiled_for(self, alias: str, obj, *, returning: bool) -> tuple | None:
        key = (alias, obj.pk is None, returning)
        try:
            return self._compiled[key]
        except KeyError:
            with self._lock:
                if key not in self._compiled:
                    self._compiled[key] = self._compile(alias, obj, returning=returning)
            return self._compiled[key]

    @staticmethod
    def _bind(template, alias: str, fields: list, obj):
        """A copy of the compiled ``template`` for ``alias``, and ``obj``'s values prepared as a save prepares
        them (``pre_save``, ``get_db_prep_save``)."""
        compiler = copy.copy(template)
        compiler.connection = connections[alias]
        return compiler, tuple(compiler.prepare_value(field, compiler.pre_save_val(field, obj)) for field in fields)

    def insert(self, *, using: str | None = None, **values) -> tuple[str, tuple]:
        """The INSERT of ``Model(**values)`` as ``(sql, params)``, without RETURNING, for a statement that
        writes it along with another change (``PreparedUpdate.update(inserts=...)``). Its field values are
        prepared as ``create`` prepares them, but it sends no save signals (the row is not saved here, as
        ``bulk_create`` sends none), and it never falls back to ``save``: a model ``create`` would save by
        the ORM gets its INSERT compiled by the ORM for each call."""
        obj = self.model(**values)
        alias = using or router.db_for_write(self.model, instance=obj)
        expressions = any(hasattr(value, "resolve_expression") for value in values.values())
        compiled = None if expressions else self._compiled_for(alias, obj, returning=False)
        if compiled is None:
            query = InsertQuery(self.model)
            query.insert_values(self._fields(obj), [obj])
            ((sql, params),) = query.get_compiler(using=alias).as_sql()
            return sql, tuple(params)
        sql, fields, _, template = compiled
        return sql, self._bind(template, alias, fields, obj)[1]

    def create(self, *, using: str | None = None, **values):
        obj = self.model(**values)
        alias = using or router.db_for_write(self.model, instance=obj)
        if any(hasattr(value, "resolve_expression") for value in values.values()):
            obj.save(force_insert=True, using=alias)
            return obj
        compiled = self._compiled_for(alias, obj, returning=True)
        if compiled is None:
            obj.save(force_insert=True, using=alias)
            return obj
        sql, fields, returning, template = compiled
        signals.pre_save.send(sender=self.model, instance=obj, raw=False, using=alias, update_fields=None)
        compiler, params = self._bind(template, alias, fields, obj)
        statement = [(sql, params + tuple(template.returning_params))]
        compiler.as_sql = lambda *args, **kwargs: statement
        with transaction.mark_for_rollback_on_error(using=alias):
            rows = compiler.execute_sql(returning)
        if rows:
            for value, field in zip(rows[0], returning, strict=False):
                setattr(obj, field.attname, value)
        obj._state.adding = False
        obj._state.db = alias
        signals.post_save.send(sender=self.model, instance=obj, created=True, update_fields=None, raw=False,
                               using=alias)
        return obj
