"""pytest-cabinet: a real cabinet server (the CDF Files API) for a test suite.

The pytest plugin (``pytest_cabinet.plugin``, registered as the ``pytest11`` entry point ``cabinet``)
offers the fixtures ``cabinet_server``, ``cabinet_server_factory``, ``cognite_client`` and
``cabinet_faults``. Outside pytest, ``start_cabinet()`` starts a server and ``Faults`` drives its fault
injection admin API.
"""

from pytest_cabinet.faults import Faults
from pytest_cabinet.server import CabinetServer, cabinet_binary, start_cabinet

__all__ = ["CabinetServer", "Faults", "cabinet_binary", "start_cabinet"]
