"""The one-way stack: surfaces -> services -> core, read from the package's imports (tests/architecture.py)."""

from tests.architecture import cycles, graph, layer_of, sideways_imports, upward_imports


def test_every_module_has_a_layer():
    for module in graph():
        assert layer_of(module)


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_no_import_points_up_the_stack():
    assert upward_imports(graph()) == []


def test_surfaces_do_not_import_each_other():
    assert sideways_imports(graph()) == []


def test_the_graph_sees_imports_inside_functions():
    # checks.py imports keys inside a function; the walk must count it, or a late import could hide a cycle.
    assert "magiclink_auth.keys" in graph()["magiclink_auth.checks"]
