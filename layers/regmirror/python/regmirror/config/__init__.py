"""The config: YAML with positions → validated models (dregsy's format plus regmirror's keys)."""

from regmirror.config.load import load_config, parse_config
from regmirror.config.models import Config, MappingConfig, Task
from regmirror.config.registry import RegistryConfig

__all__ = ["Config", "MappingConfig", "RegistryConfig", "Task", "load_config", "parse_config"]
