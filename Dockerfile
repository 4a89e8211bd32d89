# The callcenter engine: one process that speaks AMI and FastAGI to Asterisk and serves HTTP.
#
# Build:  docker build -t callcenter .
#   (podman: `podman build --format docker -t callcenter .`; the OCI format has no HEALTHCHECK)
# Run, in the network namespace of the Asterisk image (Dockerfile.asterisk), so that AMI and
# FastAGI stay on 127.0.0.1 as on a single machine (podman: both in one pod):
#   docker run -d --network container:asterisk -e CALLCENTER__AMI__SECRET=... \
#       -e CALLCENTER__HTTP__API_TOKENS='["..."]' callcenter
# With Asterisk elsewhere, also set CALLCENTER__AMI__HOST and CALLCENTER__FASTAGI__ALLOWED_PEERS
# (JSON list) to its address.
#
# The base is Debian sid: it is the only Debian with Asterisk 22, and the engine image uses the
# same base as Dockerfile.asterisk. On a normal machine `debian:sid-slim` is pulled from the
# registry; where no registry is reachable, import a Debian sid root under that name first.
#
# Settings: the YAML file is /etc/callcenter/hotline.yaml (mount your own over it); every key can
# be overridden from the environment (CALLCENTER__SECTION__KEY, JSON for lists). Secrets
# (CALLCENTER__AMI__SECRET, CALLCENTER__HTTP__API_TOKENS) only ever come from the environment.

FROM debian:sid-slim

# Versions are not pinned: sid is a moving target whose old versions leave the archive within
# days, so a pin would break every build soon after. Valid-Until is ignored so that a dated
# snapshot of the archive (whose Release file has expired) still installs. The user has a fixed
# numeric id, so that USER below is non-root even where /etc/passwd is not consulted (e.g.
# Kubernetes' runAsNonRoot) and a mounted volume can be owned by it.
# hadolint ignore=DL3008
RUN apt-get -o Acquire::Check-Valid-Until=false update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3 python3-venv \
        sox ghostscript libtiff-tools \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 callcenter \
    && useradd --no-log-init --uid 10001 --gid 10001 --home-dir /var/lib/callcenter \
        --shell /usr/sbin/nologin callcenter \
    && install -d -o callcenter -g callcenter /var/lib/callcenter /var/lib/callcenter/var

# The virtual environment in /opt/callcenter. Dependencies get their own layer (read from
# pyproject.toml), so a change to the code alone rebuilds quickly. Behind a proxy that intercepts
# TLS, hand pip a CA bundle that trusts it (it never lands in a layer):
#   docker build --secret id=ca-bundle,src=/etc/ssl/certs/ca-certificates.crt ...
# Steps are few on purpose: a builder on vfs storage copies the whole file system for each one.
COPY pyproject.toml /usr/src/callcenter/
RUN --mount=type=secret,id=ca-bundle \
    python3 -m venv /opt/callcenter \
    && python3 -c "import tomllib; d = tomllib.load(open('/usr/src/callcenter/pyproject.toml', 'rb')); \
print('\n'.join(d['build-system']['requires'] + d['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi \
    && /opt/callcenter/bin/pip install --no-cache-dir --disable-pip-version-check \
        -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY config/ /etc/callcenter/
# IVR scripts and the prompt list they are validated against, relative to the working directory
# as in the sample configuration (mount a volume on ivr/ to edit scripts while the engine runs).
COPY ivr/ /var/lib/callcenter/ivr/
COPY sounds/ /var/lib/callcenter/sounds/
COPY callcenter/ /usr/src/callcenter/callcenter/
RUN /opt/callcenter/bin/pip install --no-cache-dir --disable-pip-version-check \
        --no-deps --no-build-isolation /usr/src/callcenter \
    && rm -rf /usr/src/callcenter \
    && /opt/callcenter/bin/python -c "import callcenter"

# Inside a container the engine must listen on every interface of the container, not on the
# loopback address that the sample configuration uses for a bare-metal install (a published port
# reaches the container's own address). FastAGI has no authentication: its allowed peers stay the
# loopback range, right for Asterisk in the same network namespace; anything else is refused
# until CALLCENTER__FASTAGI__ALLOWED_PEERS names Asterisk's address. The sample configuration keeps
# its SQLite database under ./var, that is /var/lib/callcenter/var: mount a volume there, or set
# CALLCENTER__DATABASE__URL to a PostgreSQL server.
ENV PATH="/opt/callcenter/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    CALLCENTER__FASTAGI__HOST=0.0.0.0 \
    CALLCENTER__HTTP__HOST=0.0.0.0
WORKDIR /var/lib/callcenter

# 4573: FastAGI (Asterisk connects here); 8080: HTTP API, agent console, /health.
EXPOSE 4573 8080

# No curl in the image: the health probe is the venv's own Python.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/opt/callcenter/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('CALLCENTER__HTTP__PORT', '8080') + '/health', timeout=4)"]

USER 10001:10001
ENTRYPOINT ["callcenter"]
CMD ["serve", "--config", "/etc/callcenter/hotline.yaml"]
