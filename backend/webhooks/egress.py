"""Where outbound webhooks may connect: public addresses only, unless configured otherwise.

A subscription URL is typed by an admin, but the platform's own network (the database,
Redis, the metadata service of a cloud host, the intranet) must not become reachable through
it (SSRF). The address is checked where it matters, on the connected socket, so a host name
that resolves to a public address when saved and to 127.0.0.1 when called (DNS rebinding)
is refused too; redirects are not followed (a public receiver could redirect inward).
`WEBHOOK_ALLOW_PRIVATE_TARGETS` lets a platform deliver to its own intranet on purpose
(and the tests to their local receivers).
"""

import http.client
import ipaddress
import socket
import urllib.request
from urllib.parse import urlsplit


class DestinationRefused(OSError):
    """The receiver's address is not public."""


def refused_reason(address: str) -> str | None:
    """Why an IP address may not be called, or None when it is a public one."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"无法识别的地址 {address}"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return f"{ip} 是本机回环地址"
    if ip.is_link_local:
        return f"{ip} 是链路本地地址 (含云主机元数据服务)"
    if ip.is_private:
        return f"{ip} 是内网地址"
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return f"{ip} 不是可投递的公网地址"
    return None


def check_url(url: str) -> str | None:
    """A reason to refuse the URL when saving it (a literal internal address or a name that
    resolves to one), or None. Connect time checks again: names can change."""
    host = urlsplit(url).hostname or ""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return f"{host} 指向本机"
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None  # unresolvable now: the delivery will fail and be retried, not a security matter
    for info in infos:
        reason = refused_reason(info[4][0])
        if reason:
            return reason
    return None


def _checked(sock) -> None:
    reason = refused_reason(sock.getpeername()[0])
    if reason:
        sock.close()
        raise DestinationRefused(f"拒绝连接: {reason} (WEBHOOK_ALLOW_PRIVATE_TARGETS 未开启)")


class _PublicHTTPConnection(http.client.HTTPConnection):
    def connect(self):
        super().connect()
        _checked(self.sock)


class _PublicHTTPSConnection(http.client.HTTPSConnection):
    def connect(self):
        super().connect()  # TCP then TLS; nothing of the request is sent before the check
        _checked(self.sock)


class _PublicHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_PublicHTTPConnection, req)


class _PublicHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_PublicHTTPSConnection, req, context=self._context)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 3xx answer is the attempt's result


def opener(*, allow_private: bool) -> urllib.request.OpenerDirector:
    handlers = [_NoRedirect()]
    if not allow_private:
        handlers += [_PublicHTTPHandler(), _PublicHTTPSHandler()]
    return urllib.request.build_opener(*handlers)
