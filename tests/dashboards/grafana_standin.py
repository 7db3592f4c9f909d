"""A local stand-in for the part of Grafana's HTTP API that ``netmon dashboards push`` calls.

Grafana cannot be installed on these machines. This implements, with Grafana 11's request and
response shapes (docs: "Folder API", "Folder/Dashboard Search API", "Dashboard API"):

- ``GET /api/health``
- ``GET /api/folders/:uid`` (404 ``{"message": "folder not found", "status": "not-found"}``),
  ``POST /api/folders``, ``PUT /api/folders/:uid``
- ``GET /api/search?type=dash-db&dashboardUIDs=..&folderUIDs=..``
- ``GET /api/dashboards/uid/:uid`` (``{"dashboard", "meta"}``; 404 "Dashboard not found")
- ``POST /api/dashboards/db`` (version bump on each save; 412 ``version-mismatch`` without
  ``overwrite``; 400 for an unknown folder or an empty title)

Bearer-token auth like a service-account token (401 ``{"message": "Unauthorized"}``). Every
request is recorded so tests can prove a second push writes nothing.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


class GrafanaStandIn:
    def __init__(self, token: str) -> None:
        self.token = token
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}  # uid -> {"dashboard", "folder_uid"}
        self.requests: list[tuple[str, str]] = []
        self._next_id = 1
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> GrafanaStandIn:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] in {"POST", "PUT", "DELETE"}]

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -- API ---------------------------------------------------------------------------------

    def _folder_json(self, folder: dict[str, Any]) -> dict[str, Any]:
        return {**folder, "url": f"/dashboards/f/{folder['uid']}/{_slug(folder['title'])}", "hasAcl": False,
                "canSave": True, "canEdit": True, "canAdmin": True, "canDelete": True, "createdBy": "admin",
                "updatedBy": "admin", "created": "2025-07-01T00:00:00Z", "updated": "2025-07-01T00:00:00Z"}

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if path == "/api/health" and method == "GET":
            return 200, {"commit": "standin", "database": "ok", "version": "11.6.0"}
        if path == "/api/folders" and method == "POST":
            uid, title = body.get("uid"), body.get("title")
            if not title:
                return 400, {"message": "folder title cannot be empty"}
            if uid in self.folders:
                return 409, {"message": "a folder with the same uid already exists"}
            folder = {"id": self._id(), "uid": uid, "title": title, "version": 1}
            self.folders[uid] = folder
            return 200, self._folder_json(folder)
        match = re.fullmatch(r"/api/folders/([^/]+)", path)
        if match:
            folder = self.folders.get(match.group(1))
            if folder is None:
                return 404, {"message": "folder not found", "status": "not-found"}
            if method == "GET":
                return 200, self._folder_json(folder)
            if method == "PUT":
                if not body.get("overwrite") and body.get("version") != folder["version"]:
                    return 412, {"message": "the folder has been changed by someone else", "status": "version-mismatch"}
                folder["title"] = body.get("title", folder["title"])
                folder["version"] += 1
                return 200, self._folder_json(folder)
        if path == "/api/search" and method == "GET":
            return 200, self._search(query)
        match = re.fullmatch(r"/api/dashboards/uid/([^/]+)", path)
        if match and method == "GET":
            stored = self.dashboards.get(match.group(1))
            if stored is None:
                return 404, {"message": "Dashboard not found"}
            board, folder = stored["dashboard"], self.folders[stored["folder_uid"]]
            slug = _slug(board["title"])
            return 200, {"dashboard": copy.deepcopy(board), "meta": {
                "type": "db", "canSave": True, "canEdit": True, "canAdmin": True, "canStar": True,
                "canDelete": True, "slug": slug, "url": f"/d/{board['uid']}/{slug}", "expires": "0001-01-01T00:00:00Z",
                "created": "2025-07-01T00:00:00Z", "updated": "2025-07-01T00:00:00Z", "updatedBy": "admin",
                "createdBy": "admin", "version": board["version"], "hasAcl": False, "isFolder": False,
                "folderId": folder["id"], "folderUid": folder["uid"], "folderTitle": folder["title"],
                "folderUrl": f"/dashboards/f/{folder['uid']}/{_slug(folder['title'])}", "provisioned": False,
                "provisionedExternalId": "", "annotationsPermissions": None}}
        if path == "/api/dashboards/db" and method == "POST":
            return self._save(body)
        return 404, {"message": "Not found"}

    def _search(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        if query.get("type", ["dash-db"])[0] != "dash-db":
            return []
        uids, folders = query.get("dashboardUIDs"), query.get("folderUIDs")
        hits = []
        for uid, stored in sorted(self.dashboards.items()):
            if (uids and uid not in uids) or (folders and stored["folder_uid"] not in folders):
                continue
            board, folder = stored["dashboard"], self.folders[stored["folder_uid"]]
            slug = _slug(board["title"])
            hits.append({"id": board["id"], "uid": uid, "title": board["title"], "uri": f"db/{slug}",
                         "url": f"/d/{uid}/{slug}", "slug": "", "type": "dash-db", "tags": board.get("tags", []),
                         "isStarred": False, "folderId": folder["id"], "folderUid": folder["uid"],
                         "folderTitle": folder["title"], "folderUrl": f"/dashboards/f/{folder['uid']}/", "sortMeta": 0})
        return hits

    def _save(self, body: dict[str, Any]) -> tuple[int, Any]:
        board = copy.deepcopy(body.get("dashboard") or {})
        folder_uid = body.get("folderUid") or ""
        if not board.get("title"):
            return 400, {"message": "Dashboard title cannot be empty", "status": "empty-name"}
        if folder_uid not in self.folders:
            return 400, {"message": "folder not found"}
        uid = board.get("uid") or f"gen{self._id()}"
        existing = self.dashboards.get(uid)
        if existing is not None and not body.get("overwrite") and board.get("version") != existing["dashboard"]["version"]:
            return 412, {"message": "The dashboard has been changed by someone else", "status": "version-mismatch"}
        board["uid"] = uid
        board["id"] = existing["dashboard"]["id"] if existing else self._id()
        board["version"] = existing["dashboard"]["version"] + 1 if existing else 1
        self.dashboards[uid] = {"dashboard": board, "folder_uid": folder_uid}
        slug = _slug(board["title"])
        return 200, {"id": board["id"], "uid": uid, "url": f"/d/{uid}/{slug}", "status": "success",
                     "version": board["version"], "slug": slug, "folderUid": folder_uid}

    # -- HTTP plumbing ---------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with standin._lock:
                    standin.requests.append((self.command, parts.path))
                    if self.headers.get("Authorization") != f"Bearer {standin.token}":
                        status, answer = 401, {"message": "Unauthorized"}
                    else:
                        try:
                            body = json.loads(raw) if raw else {}
                        except ValueError:
                            status, answer = 400, {"message": "bad request data"}
                        else:
                            status, answer = standin.handle(self.command, parts.path, parse_qs(parts.query), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        return Handler
