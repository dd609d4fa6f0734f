"""Boards: one package per board, each providing the Board HAL of docs/architecture.md."""
