# USER_C_MODULES of `make mp32` / `make mp32f` (Makefile): mbedTLS's entropy source.
SRC_USERMOD_C += $(USERMOD_DIR)/entropy.c
