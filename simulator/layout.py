"""Where the hardware is: node groups (one per GPU type), their node numbering, racks and the
nodes the job starts on.

Nodes are numbered group after group; within a group the job's nodes come first, then the
group's idle and hot-spare nodes. A rack holds ``nodes_per_rack`` consecutive nodes of one group.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.catalog import GpuType
from simulator.config import FleetGroup, Scenario


@dataclass(frozen=True)
class Group:
    """One GPU type's nodes.

    Attributes:
        index: position in the fleet.
        config: the fleet entry.
        offset: global index of the group's first node.
        nodes: nodes including spares.
        job_nodes: nodes the job holds when nothing has failed.
    """

    index: int
    config: FleetGroup
    offset: int
    nodes: int
    job_nodes: int

    @property
    def gpu(self) -> GpuType:
        return self.config.gpu_type

    @property
    def gpus_per_node(self) -> int:
        return self.config.gpus_per_node

    @property
    def nodes_per_rack(self) -> int:
        return self.config.nodes_per_rack

    @property
    def racks(self) -> int:
        return math.ceil(self.nodes / self.config.nodes_per_rack)

    @property
    def job_racks(self) -> int:
        return math.ceil(self.job_nodes / self.config.nodes_per_rack)

    def units(self, per: str, domain_nodes: int | None = None) -> int:
        """Installed units of a failure kind (spares included); a domain is ``domain_nodes``
        consecutive nodes."""
        if per == "domain":
            return math.ceil(self.nodes / (domain_nodes or 1))
        return {"gpu": self.nodes * self.gpus_per_node, "node": self.nodes, "rack": self.racks}[per]

    def job_units(self, per: str, domain_nodes: int | None = None) -> int:
        """Units of a failure kind that the job uses (racks, domains: every one it touches)."""
        if per == "domain":
            return math.ceil(self.job_nodes / (domain_nodes or 1))
        return {"gpu": self.job_nodes * self.gpus_per_node, "node": self.job_nodes,
                "rack": self.job_racks}[per]


def layout(scenario: Scenario) -> list[Group]:
    """The node groups of a scenario's cluster."""
    c = scenario.cluster
    groups, offset = [], 0
    for i, g in enumerate(c.groups):
        if c.fleet is None:
            job_nodes = scenario.job_gpus // g.gpus_per_node
        else:
            job_nodes = g.gpus // g.gpus_per_node
        groups.append(Group(i, g, offset, g.nodes, job_nodes))
        offset += g.nodes
    return groups
