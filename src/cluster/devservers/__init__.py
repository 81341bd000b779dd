"""Development servers: stand-ins for parts that cannot exist on a developer's machine (a TEE enclave), each
named as such, serving the same API as the real part so that the real client code path runs against them.
They sit at the top of the import layers, beside the CLI: nothing in the service imports them."""
