"""Demo data: deterministic source exports with planted incidents (see ``docs/demo-scenario.md``)."""

from feedbackloop.demo.generator import DemoConfig, write_demo_inbox

__all__ = ["DemoConfig", "write_demo_inbox"]
