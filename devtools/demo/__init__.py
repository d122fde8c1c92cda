"""Demo data for the local stack (`make run`): `python -m devtools.demo.<service>`, run by devtools.stack after
the services are ready, in the services' order. Each calls its service only through `services.<svc>.public` or
its HTTP API; each is idempotent and refused in production."""
