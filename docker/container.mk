# docker/container.mk - container targets, included by the Makefile:
#   include docker/container.mk
# (after VERSION is set).  See the Deploy section of README.md.
#
#   make container-test  build docker/Dockerfile in a real Docker engine and
#                        test image (size under MAX_IMAGE_MB, dpkg
#                        records, no shell), container, compose, the k8s
#                        manifests and compose's cluster profile (NATS,
#                        3 replicas, nginx) (as root: installs docker.io,
#                        docker-compose, debootstrap when missing, starts
#                        and stops dockerd, builds a local base image from
#                        ../shared/tools/mkbase.sh when there is none)
#   make image           docker build -t cascaded:$(VERSION) -t cascaded:latest
#   make k8s-validate    schema + strict + policy checks of docker/k8s/*.yaml
#   make cluster-images  the NATS and nginx images of compose.yaml's
#                        "cluster" profile, from Debian packages
#                        (cascaded-nats:local, cascaded-nginx:local)

CONTAINER_IMAGE ?= cascaded
# The image is FROM scratch plus the Debian packages the binary loads
# (14.2 MB at 0.1.0); container-test fails at this size, in 10^6 bytes.
MAX_IMAGE_MB ?= 30
CONTAINER_REVISION = $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

.PHONY: container-test image k8s-validate cluster-images

container-test:
	IMAGE=$(CONTAINER_IMAGE):ci VERSION=$(VERSION) \
		MAX_IMAGE_MB=$(MAX_IMAGE_MB) bash tests/container-test.sh

image:
	docker build -f docker/Dockerfile --build-arg VERSION=$(VERSION) \
		--build-arg REVISION=$(CONTAINER_REVISION) \
		-t $(CONTAINER_IMAGE):$(VERSION) -t $(CONTAINER_IMAGE):latest .

k8s-validate:
	bash tests/k8s-validate.sh

cluster-images:
	docker build -f docker/Dockerfile.nats -t cascaded-nats:local docker
	docker build -f docker/Dockerfile.nginx -t cascaded-nginx:local docker
