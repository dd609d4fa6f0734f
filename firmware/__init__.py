"""MicroEVSE's application, by concern (docs/architecture.md has the whole house).

    main        boot: settings and state from flash, the kernel, the adapter, the tasks
    memory      the memory mechanics: unload, call (a module for one call), Scope, preload,
                the TLS room (tls_room, TlsRoom: mbedTLS's buffers kept in one piece)
    log, clock  the leveled logger with its RAM ring; the injectable clock
    repl        the REPL API of a running station (docs/repl.md)
    evse/       the charging kernel: Evse (one connector), Station, pilot levels, and the
                API an ISO 15118 stack uses (iso15118)
    ocpp/       the OCPP adapters: base (shared: connection, registration, status, reset,
                routing), txbase + txq (transactions, journaled delivery), metervalues,
                profiles (connection profiles), security (events), sign (CSR flow);
                v16/ and v201/ (a version each: core.py holds its routing table ROUTES)
    auth/       authorization: store (AuthStore), cache, locallist, records (files)
    security/   certs/ (the certificate store, signatures, V2G chain, the station's TLS
                identity, CSR signing), tlsctx (a TLS context per connect), netprof
                (connection profiles: URL + security profile slots, fall-back)
    persist/    on flash: config (provisioning, validated), settings (OCPP keys and
                variables, one table), state (Persist: state.json)

The Modbus meter adapter lives with the HAL (boards/common/modbusmeter.py)."""
