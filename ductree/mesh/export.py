"""Write and read models by file suffix (as trimesh's exchange does): STL, 3MF, GLB, PLY, OBJ, VTP.

:data:`MODEL_FORMATS` maps a suffix to its writer and reader; adding a format
is one entry. Every writer goes through :func:`ductree.atomic.atomic_path`, so
nothing half-written ever stands under the final name.

Coordinates: bodies live in the breast frame (BF, mm). :func:`export_model`
writes ``scale * p_BF`` (``space="BF"``) or ``nipple_LPS + scale * p_BF``
(``space="LPS"``, for 3D Slicer or overlay on the source volume; the scale
is about the nipple), and says so in the file: ``SPACE=LPS`` in the STL
header, a PLY/OBJ comment, VTP field data (``SPACE``), 3MF metadata and the
glTF asset extras. glTF's own standard is metres with +Y up and the front
toward +Z, so GLB is written as ``(x, z, -y) / 1000`` of the above
(superior up, the nipple facing the viewer); the reader undoes it.

Per format: STL has no bodies or colours (bodies are the connected pieces on
reading back); PLY and OBJ carry an RGBA/RGB colour per vertex and PLY a
``body`` id per face; OBJ an ``o`` group per body; 3MF one object per body
with a base-material colour; GLB one node per body with a PBR colour
(translucent context); VTP cell arrays ``body`` and ``Colors`` and the body
names in field data.
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
import zipfile
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import InputError
from .bodies import Body, ModelBodies

SPACES = ("BF", "LPS")


# ----------------------------------------------------------------------------- coordinates

@dataclass(frozen=True)
class Placement:
    """How BF mm map to the file: ``out = offset + scale * p_BF`` (mm), and the space's name."""

    space: str = "BF"
    scale: float = 1.0
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def apply(self, v: np.ndarray) -> np.ndarray:
        return np.asarray(self.offset, float) + self.scale * np.asarray(v, float)

    def undo(self, v: np.ndarray) -> np.ndarray:
        return (np.asarray(v, float) - np.asarray(self.offset, float)) / self.scale

    def tag(self) -> str:
        """The one-line description written into headers and comments."""
        base = f"SPACE={self.space}" if self.space == "LPS" else "FRAME=BF"
        return f"{base} UNITS=mm SCALE={self.scale:g}"


def placement(space: str = "BF", *, nipple_lps: Sequence[float] | None = None, scale: float = 1.0) -> Placement:
    """Check the export options and return a :class:`Placement` (raises :class:`InputError`)."""
    space_u = str(space).upper()
    if space_u not in SPACES:
        raise InputError(f"unknown space {space!r}; choose BF or LPS", key="space")
    try:
        s = float(scale)
    except (TypeError, ValueError):
        raise InputError(f"must be a number > 0, got {scale!r}", key="scale") from None
    if not math.isfinite(s) or s <= 0:
        raise InputError(f"must be a number > 0, got {scale!r}", key="scale")
    offset = (0.0, 0.0, 0.0)
    if space_u == "LPS":
        if nipple_lps is None:
            raise InputError("LPS output needs the nipple position in patient LPS (nipple_lps, mm)",
                             key="nipple_lps")
        n = np.asarray(nipple_lps, dtype=float).reshape(-1)
        if n.shape != (3,) or not np.all(np.isfinite(n)):
            raise InputError(f"must be 3 finite numbers (mm), got {nipple_lps!r}", key="nipple_lps")
        offset = tuple(float(x) for x in n)
    elif nipple_lps is not None:
        raise InputError("nipple_lps is only used with space LPS", key="nipple_lps")
    return Placement(space_u, s, offset)


_TAG = re.compile(r"(SPACE|FRAME)=(\w+)\s+UNITS=mm\s+SCALE=([0-9.eE+-]+)")


def _parse_tag(text: str) -> dict:
    m = _TAG.search(text)
    if not m:
        return {}
    return {"space": "LPS" if m.group(1) == "SPACE" and m.group(2) == "LPS" else m.group(2),
            "scale": float(m.group(3))}


def _rgba(color) -> tuple[int, int, int, int]:
    c = tuple(int(x) for x in color)
    return c if len(c) == 4 else (*c, 255)


# ----------------------------------------------------------------------------- STL

_STL_DTYPE = np.dtype([("normal", "<f4", (3,)), ("v", "<f4", (3, 3)), ("attr", "<u2")])


def _write_stl(bodies: list[tuple[Body, np.ndarray]], pl: Placement) -> bytes:
    tris = np.concatenate([v[b.mesh.faces] for b, v in bodies]) if bodies else np.empty((0, 3, 3))
    rec = np.zeros(len(tris), dtype=_STL_DTYPE)
    n = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)
    rec["normal"] = n
    rec["v"] = tris
    header = f"ductree model {pl.tag()} BODIES={len(bodies)}".encode("ascii")[:80].ljust(80, b" ")
    return header + struct.pack("<I", len(rec)) + rec.tobytes()


def _read_stl(data: bytes) -> tuple[list[dict], dict]:
    if len(data) < 84:
        raise InputError("not a binary STL (too short)")
    header = data[:80].decode("ascii", "replace")
    (n,) = struct.unpack("<I", data[80:84])
    if len(data) != 84 + n * 50:
        raise InputError("not a binary STL (size does not match the triangle count)")
    rec = np.frombuffer(data, dtype=_STL_DTYPE, count=n, offset=84)
    flat = np.ascontiguousarray(rec["v"].reshape(-1, 3))
    # Weld exactly equal float32 coordinates, as slicers and trimesh do.
    _, first, inverse = np.unique(flat.view(np.dtype((np.void, 12))).reshape(-1), return_index=True,
                                  return_inverse=True)
    verts = flat[first].astype(float)
    faces = inverse.reshape(-1, 3)
    pieces = [{"vertices": verts, "faces": f} for f in _split_components(faces)]
    return pieces, _parse_tag(header)


def _split_components(faces: np.ndarray) -> list[np.ndarray]:
    """Faces grouped into edge-connected components (bodies), in order of first face."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nf = len(faces)
    if nf == 0:
        return []
    e = np.sort(np.stack([faces[:, [0, 1, 2]].reshape(-1), faces[:, [1, 2, 0]].reshape(-1)], 1), axis=1)
    key = e[:, 0] * (int(faces.max()) + 1) + e[:, 1]
    order = np.argsort(key, kind="stable")
    same = key[order][1:] == key[order][:-1]
    fa = order[:-1][same] // 3
    fb = order[1:][same] // 3
    g = coo_matrix((np.ones(len(fa)), (fa, fb)), shape=(nf, nf))
    _, lab = connected_components(g, directed=False)
    _, first = np.unique(lab, return_index=True)
    return [faces[lab == lab[i]] for i in np.sort(first)]


# ----------------------------------------------------------------------------- PLY

def _write_ply(bodies: list[tuple[Body, np.ndarray]], pl: Placement) -> bytes:
    verts, faces, vcol, fbody, offset = [], [], [], [], 0
    for k, (b, v) in enumerate(bodies):
        verts.append(v.astype("<f4"))
        vcol.append(np.tile(np.array(_rgba(b.color), dtype=np.uint8), (len(v), 1)))
        faces.append(b.mesh.faces + offset)
        fbody.append(np.full(len(b.mesh.faces), k, dtype="<i4"))
        offset += len(v)
    V = np.concatenate(verts) if verts else np.empty((0, 3), "<f4")
    F = np.concatenate(faces) if faces else np.empty((0, 3), np.int64)
    C = np.concatenate(vcol) if vcol else np.empty((0, 4), np.uint8)
    B = np.concatenate(fbody) if fbody else np.empty(0, "<i4")
    names = [f"comment body {k} {json.dumps(b.name)} {b.kind}" for k, (b, _) in enumerate(bodies)]
    header = "\n".join([
        "ply", "format binary_little_endian 1.0", f"comment ductree model {pl.tag()}", *names,
        f"element vertex {len(V)}", "property float x", "property float y", "property float z",
        "property uchar red", "property uchar green", "property uchar blue", "property uchar alpha",
        f"element face {len(F)}", "property list uchar int vertex_indices", "property int body", "end_header",
    ]) + "\n"
    vrec = np.zeros(len(V), dtype=[("p", "<f4", (3,)), ("c", "u1", (4,))])
    vrec["p"], vrec["c"] = V, C
    frec = np.zeros(len(F), dtype=[("n", "u1"), ("i", "<i4", (3,)), ("b", "<i4")])
    frec["n"], frec["i"], frec["b"] = 3, F, B
    return header.encode("ascii") + vrec.tobytes() + frec.tobytes()


def _read_ply(data: bytes) -> tuple[list[dict], dict]:
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply") or end < 0:
        raise InputError("not a PLY file")
    header = data[:end].decode("ascii", "replace")
    if "format binary_little_endian 1.0" not in header or "property int body" not in header:
        import trimesh

        m = trimesh.load(io.BytesIO(data), file_type="ply", process=True)
        return [{"vertices": m.vertices, "faces": f} for f in _split_components(m.faces)], _parse_tag(header)
    nv = int(re.search(r"element vertex (\d+)", header).group(1))
    nf = int(re.search(r"element face (\d+)", header).group(1))
    body = end + len(b"end_header\n")
    vrec = np.frombuffer(data, dtype=[("p", "<f4", (3,)), ("c", "u1", (4,))], count=nv, offset=body)
    frec = np.frombuffer(data, dtype=[("n", "u1"), ("i", "<i4", (3,)), ("b", "<i4")], count=nf,
                         offset=body + vrec.nbytes)
    names = re.findall(r'comment body (\d+) (".*?") (\w+)', header)
    V = vrec["p"].astype(float)
    out = []
    for k in np.unique(frec["b"]):
        f = frec["i"][frec["b"] == k].astype(np.int64)
        piece = {"vertices": V, "faces": f, "color": tuple(int(x) for x in vrec["c"][f[0, 0]])}
        for idx, name, kind in names:
            if int(idx) == k:
                piece["name"], piece["kind"] = json.loads(name), kind
        out.append(piece)
    return out, _parse_tag(header)


# ----------------------------------------------------------------------------- OBJ

def _write_obj(bodies: list[tuple[Body, np.ndarray]], pl: Placement) -> bytes:
    out = io.StringIO()
    out.write(f"# ductree model {pl.tag()}\n# vertex colours: v x y z r g b (0-1)\n")
    offset = 1
    for b, v in bodies:
        out.write(f"o {b.name.replace(' ', '_')}\n# kind {b.kind}\n")
        rgb = np.array(_rgba(b.color)[:3]) / 255.0
        np.savetxt(out, np.hstack([v, np.tile(rgb, (len(v), 1))]), fmt="v %.6f %.6f %.6f %.4f %.4f %.4f")
        np.savetxt(out, b.mesh.faces + offset, fmt="f %d %d %d")
        offset += len(v)
    return out.getvalue().encode("ascii")


def _read_obj(data: bytes) -> tuple[list[dict], dict]:
    text = data.decode("ascii", "replace")
    pieces: list[dict] = []
    verts: list[list[float]] = []
    cols: list[list[float]] = []
    cur: dict | None = None
    for line in text.splitlines():
        if line.startswith("v "):
            p = line.split()
            verts.append([float(x) for x in p[1:4]])
            cols.append([float(x) for x in p[4:7]] if len(p) >= 7 else [1.0, 1.0, 1.0])
        elif line.startswith("f "):
            if cur is None:
                cur = {"name": "body", "faces": []}
                pieces.append(cur)
            cur["faces"].append([int(x.split("/")[0]) - 1 for x in line.split()[1:4]])
        elif line.startswith("o "):
            cur = {"name": line[2:].strip().replace("_", " "), "faces": []}
            pieces.append(cur)
        elif line.startswith("# kind ") and cur is not None:
            cur["kind"] = line[7:].strip()
    V = np.array(verts, dtype=float).reshape(-1, 3)
    C = np.array(cols).reshape(-1, 3)
    out = []
    for p in pieces:
        f = np.array(p["faces"], dtype=np.int64).reshape(-1, 3)
        if len(f):
            rgb = tuple(int(round(x * 255)) for x in C[f[0, 0]])
            out.append({"vertices": V, "faces": f, "name": p["name"], "kind": p.get("kind", ""),
                        "color": (*rgb, 255)})
    return out, _parse_tag(text[:400])


# ----------------------------------------------------------------------------- 3MF

_3MF_NS = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"


def _write_3mf(bodies: list[tuple[Body, np.ndarray]], pl: Placement) -> bytes:
    from xml.sax.saxutils import quoteattr

    model = io.StringIO()
    model.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    model.write(f'<model unit="millimeter" xml:lang="en-US" xmlns="{_3MF_NS}">\n')
    model.write(f' <metadata name="Title">ductree model</metadata>\n <metadata name="Description">'
                f'{pl.tag()}</metadata>\n <resources>\n  <basematerials id="1">\n')
    for b, _ in bodies:
        r, g, bl, a = _rgba(b.color)
        model.write(f'   <base name={quoteattr(b.name)} displaycolor="#{r:02X}{g:02X}{bl:02X}{a:02X}"/>\n')
    model.write("  </basematerials>\n")
    for k, (b, v) in enumerate(bodies):
        model.write(f'  <object id="{k + 2}" type="model" name={quoteattr(b.name)} pid="1" pindex="{k}">\n'
                    "   <mesh>\n    <vertices>\n")
        np.savetxt(model, v, fmt='     <vertex x="%.6f" y="%.6f" z="%.6f"/>')
        model.write("    </vertices>\n    <triangles>\n")
        np.savetxt(model, b.mesh.faces, fmt='     <triangle v1="%d" v2="%d" v3="%d"/>')
        model.write("    </triangles>\n   </mesh>\n  </object>\n")
    model.write(" </resources>\n <build>\n")
    for k in range(len(bodies)):
        model.write(f'  <item objectid="{k + 2}"/>\n')
    model.write(" </build>\n</model>\n")
    content_types = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                     '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                     '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                     '<Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>'
                     "</Types>")
    rels = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Target="/3D/3dmodel.model" Id="rel0" '
            'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", content_types)
        z.writestr("_rels/.rels", rels)
        z.writestr("3D/3dmodel.model", model.getvalue())
    return buf.getvalue()


def _read_3mf(data: bytes) -> tuple[list[dict], dict]:
    import xml.etree.ElementTree as ET

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            name = next((n for n in z.namelist() if n.lower().endswith(".model")), None)
            if name is None:
                raise InputError("not a 3MF file (no 3D model part)")
            root = ET.fromstring(z.read(name))
    except zipfile.BadZipFile:
        raise InputError("not a 3MF file (not a zip archive)") from None
    ns = {"m": root.tag.split("}")[0].strip("{")} if root.tag.startswith("{") else {"m": ""}
    q = (lambda t: f"{{{ns['m']}}}{t}") if ns["m"] else (lambda t: t)
    colors: dict[str, list] = {}
    for bm in root.iter(q("basematerials")):
        colors[bm.get("id")] = [_hex_color(b.get("displaycolor", "#FFFFFFFF")) for b in bm.iter(q("base"))]
    desc = " ".join((m.text or "") for m in root.iter(q("metadata")))
    out = []
    for obj in root.iter(q("object")):
        mesh = obj.find(q("mesh"))
        if mesh is None:
            continue
        V = np.array([[float(v.get(a)) for a in "xyz"] for v in mesh.iter(q("vertex"))]).reshape(-1, 3)
        F = np.array([[int(t.get(a)) for a in ("v1", "v2", "v3")] for t in mesh.iter(q("triangle"))],
                     dtype=np.int64).reshape(-1, 3)
        piece = {"vertices": V, "faces": F, "name": obj.get("name", "")}
        pid, pindex = obj.get("pid"), obj.get("pindex")
        if pid in colors and pindex is not None and int(pindex) < len(colors[pid]):
            piece["color"] = colors[pid][int(pindex)]
        out.append(piece)
    return out, _parse_tag(desc)


def _hex_color(text: str) -> tuple[int, int, int, int]:
    h = text.lstrip("#")
    vals = [int(h[i:i + 2], 16) for i in range(0, len(h), 2)]
    return tuple((vals + [255])[:4])  # type: ignore[return-value]


# ----------------------------------------------------------------------------- GLB

#: BF mm -> glTF metres, +Y up (superior), +Z toward the viewer (anterior): (x, z, -y) / 1000.
_GLTF_AXES = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def _write_glb(bodies: list[tuple[Body, np.ndarray]], pl: Placement) -> bytes:
    import trimesh

    scene = trimesh.Scene()
    for b, v in bodies:
        r, g, bl, a = _rgba(b.color)
        mat = trimesh.visual.material.PBRMaterial(
            name=b.name, baseColorFactor=[r, g, bl, a], metallicFactor=0.0, roughnessFactor=0.7,
            alphaMode="BLEND" if a < 255 else "OPAQUE", doubleSided=False)
        m = trimesh.Trimesh((v @ _GLTF_AXES.T) / 1000.0, b.mesh.faces, process=False,
                            visual=trimesh.visual.TextureVisuals(material=mat))
        m.metadata["name"] = b.name
        scene.add_geometry(m, node_name=b.name, geom_name=b.name)
    extras = {"ductree": pl.tag(), "kinds": {b.name: b.kind for b, _ in bodies},
              "frame": "glTF metres, +Y superior, +Z anterior: (x, z, -y) / 1000 of the file's mm space"}

    def add_extras(tree: dict) -> None:
        tree.setdefault("asset", {})["extras"] = extras

    return scene.export(file_type="glb", tree_postprocessor=add_extras)


def _read_glb(data: bytes) -> tuple[list[dict], dict]:
    import trimesh

    try:
        scene = trimesh.load(io.BytesIO(data), file_type="glb", process=True)
    except Exception as exc:  # trimesh raises many kinds on a bad file
        raise InputError(f"not a readable GLB file ({exc})") from None
    if isinstance(scene, trimesh.Trimesh):
        scene = trimesh.Scene(scene)
    extras = _glb_asset_extras(data)
    kinds = extras.get("kinds", {}) if isinstance(extras, dict) else {}
    out = []
    for name, g in scene.geometry.items():
        v = (np.asarray(g.vertices) * 1000.0) @ _GLTF_AXES  # inverse of the orthogonal axes map
        piece = {"vertices": v, "faces": np.asarray(g.faces), "name": name, "kind": kinds.get(name, "")}
        mat = getattr(g.visual, "material", None)
        if mat is not None and getattr(mat, "baseColorFactor", None) is not None:
            piece["color"] = tuple(int(x) for x in mat.baseColorFactor)
        out.append(piece)
    return out, _parse_tag(str(extras.get("ductree", "")) if isinstance(extras, dict) else "")


def _glb_asset_extras(data: bytes) -> dict:
    """``asset.extras`` from a GLB's JSON chunk (empty when absent)."""
    if len(data) < 20 or data[:4] != b"glTF":
        return {}
    length, kind = struct.unpack("<I4s", data[12:20])
    if kind != b"JSON":
        return {}
    try:
        return json.loads(data[20:20 + length]).get("asset", {}).get("extras", {}) or {}
    except (ValueError, AttributeError):
        return {}


# ----------------------------------------------------------------------------- VTP

def _write_vtp(bodies: list[tuple[Body, np.ndarray]], pl: Placement, path: Path) -> None:
    import vtk
    from vtk.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray

    V = np.concatenate([v for _, v in bodies]) if bodies else np.empty((0, 3))
    offsets = np.cumsum([0] + [len(v) for _, v in bodies])
    F = np.concatenate([b.mesh.faces + o for (b, _), o in zip(bodies, offsets)]) if bodies else np.empty((0, 3), int)
    body_id = np.concatenate([np.full(len(b.mesh.faces), k) for k, (b, _) in enumerate(bodies)]) if bodies \
        else np.empty(0, int)
    colors = np.array([_rgba(b.color) for b, _ in bodies], dtype=np.uint8).reshape(-1, 4)[body_id]
    poly = vtk.vtkPolyData()
    pts = vtk.vtkPoints()
    pts.SetData(numpy_to_vtk(np.ascontiguousarray(V, dtype=np.float64), deep=True))
    poly.SetPoints(pts)
    cells = vtk.vtkCellArray()
    cells.SetData(numpy_to_vtkIdTypeArray(np.arange(0, 3 * len(F) + 1, 3, dtype=np.int64), deep=True),
                  numpy_to_vtkIdTypeArray(np.ascontiguousarray(F, dtype=np.int64).ravel(), deep=True))
    poly.SetPolys(cells)
    arr = numpy_to_vtk(body_id.astype(np.int32), deep=True)
    arr.SetName("body")
    poly.GetCellData().AddArray(arr)
    col = numpy_to_vtk(np.ascontiguousarray(colors), deep=True, array_type=vtk.VTK_UNSIGNED_CHAR)
    col.SetName("Colors")
    poly.GetCellData().AddArray(col)
    fd = poly.GetFieldData()
    for key, values in (("SPACE" if pl.space == "LPS" else "FRAME", [pl.space]),
                        ("UNITS", ["mm"]), ("SCALE", [f"{pl.scale:g}"]),
                        ("body_names", [b.name for b, _ in bodies]), ("body_kinds", [b.kind for b, _ in bodies])):
        sa = vtk.vtkStringArray()
        sa.SetName(key)
        for val in values:
            sa.InsertNextValue(val)
        fd.AddArray(sa)
    w = vtk.vtkXMLPolyDataWriter()
    w.SetFileName(str(path))
    w.SetInputData(poly)
    w.SetDataModeToBinary()
    if w.Write() != 1:
        raise OSError(f"VTK could not write {path}")


def _read_vtp(path: Path) -> tuple[list[dict], dict]:
    import vtk
    from vtk.util.numpy_support import vtk_to_numpy

    r = vtk.vtkXMLPolyDataReader()
    r.SetFileName(str(path))
    r.Update()
    poly = r.GetOutput()
    if poly is None or poly.GetNumberOfPoints() == 0:
        raise InputError("not a VTP surface (no points)", source=path)
    V = vtk_to_numpy(poly.GetPoints().GetData()).astype(float)
    conn = vtk_to_numpy(poly.GetPolys().GetConnectivityArray()).astype(np.int64)
    F = conn.reshape(-1, 3)
    fd = poly.GetFieldData()

    def strings(name: str) -> list[str]:
        a = fd.GetAbstractArray(name)
        return [] if a is None else [a.GetValue(i) for i in range(a.GetNumberOfValues())]

    names, kinds = strings("body_names"), strings("body_kinds")
    body = poly.GetCellData().GetArray("body")
    colors = poly.GetCellData().GetArray("Colors")
    bid = vtk_to_numpy(body) if body is not None else np.zeros(len(F), int)
    col = vtk_to_numpy(colors) if colors is not None else None
    out = []
    for k in np.unique(bid):
        sel = np.flatnonzero(bid == k)
        piece = {"vertices": V, "faces": F[sel]}
        if k < len(names):
            piece["name"] = names[k]
        if k < len(kinds):
            piece["kind"] = kinds[k]
        if col is not None:
            piece["color"] = tuple(int(x) for x in col[sel[0]])
        out.append(piece)
    space = strings("SPACE")
    scale = strings("SCALE")
    meta = {"space": space[0] if space else (strings("FRAME") or ["BF"])[0]}
    if scale:
        meta["scale"] = float(scale[0])
    return out, meta


# ----------------------------------------------------------------------------- dispatch

@dataclass(frozen=True)
class ModelFormat:
    """A model file format: ``write(bodies, placement) -> bytes`` (or ``write_path(..., path)``) and a reader."""

    name: str
    write: Callable | None
    read: Callable | None
    write_path: Callable | None = None
    read_path: Callable | None = None
    colors: bool = True
    bodies: bool = True


#: suffix -> format (the writer picks by suffix, as trimesh's exchange does)
MODEL_FORMATS: dict[str, ModelFormat] = {
    ".stl": ModelFormat("binary STL", _write_stl, _read_stl, colors=False, bodies=False),
    ".3mf": ModelFormat("3MF", _write_3mf, _read_3mf),
    ".glb": ModelFormat("glTF binary", _write_glb, _read_glb),
    ".ply": ModelFormat("binary PLY", _write_ply, _read_ply),
    ".obj": ModelFormat("Wavefront OBJ", _write_obj, _read_obj),
    ".vtp": ModelFormat("VTK PolyData", None, None, write_path=_write_vtp, read_path=_read_vtp),
}


def model_format(path: str | PathLike) -> ModelFormat:
    """The :class:`ModelFormat` for a path's suffix; :class:`InputError` for an unknown one."""
    suffix = Path(path).suffix.lower()
    fmt = MODEL_FORMATS.get(suffix)
    if fmt is None:
        known = ", ".join(sorted(MODEL_FORMATS))
        raise InputError(f"unknown model format {suffix or '(no suffix)'!r}; known: {known}", source=path)
    return fmt


def export_model(bodies: ModelBodies | Sequence[Body], path: str | PathLike, *, space: str = "BF",
                 nipple_lps: Sequence[float] | None = None, scale: float = 1.0) -> Path:
    """Write a model to ``path``, the format chosen by suffix (see :data:`MODEL_FORMATS`).

    Parameters
    ----------
    bodies : ModelBodies or list of Body
        The model, in BF mm.
    path : path-like
        Output file; its folder must exist. Written atomically.
    space : {"BF", "LPS"}
        Write breast-frame coordinates, or patient LPS (``nipple_lps + p``).
    nipple_lps : 3 floats, optional
        The nipple tip in patient LPS (mm); required for ``space="LPS"``.
    scale : float
        Scale about the nipple (e.g. 2.0 for a 2:1 print); must be > 0.

    Returns
    -------
    Path
        The path written.
    """
    from ..atomic import atomic_path, check_output_path, write_bytes

    fmt = model_format(path)
    pl = placement(space, nipple_lps=nipple_lps, scale=scale)
    out = check_output_path(path)
    items = list(bodies)
    if not items:
        raise InputError("the model has no bodies", source=out)
    placed = [(b, pl.apply(np.asarray(b.mesh.vertices, float))) for b in items]
    if fmt.write_path is not None:
        with atomic_path(out) as tmp:
            fmt.write_path(placed, pl, tmp)
    else:
        write_bytes(out, fmt.write(placed, pl))
    return out


def read_model(path: str | PathLike, *, to_bf: bool = True) -> ModelBodies:
    """Read a model written by :func:`export_model` (or any file of these formats) back into bodies.

    Bodies come from the file's own grouping (3MF objects, GLB nodes, PLY
    ``body`` ids, OBJ groups, VTP ``body`` cells) or, for STL and files
    without one, from connected pieces after welding equal coordinates.
    With ``to_bf`` the coordinates are mapped back to BF mm using the space,
    scale and nipple offset recorded in the file (an LPS file needs its
    offset: it is not recorded, so LPS coordinates are returned as written).
    """
    import trimesh

    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", source=p)
    fmt = model_format(p)
    if fmt.read_path is not None:
        pieces, meta = fmt.read_path(p)
    else:
        pieces, meta = fmt.read(p.read_bytes())
    model = ModelBodies(info={"format": fmt.name, **meta})
    scale = float(meta.get("scale", 1.0)) if to_bf and meta.get("space", "BF") == "BF" else 1.0
    for k, piece in enumerate(pieces):
        F = np.asarray(piece["faces"], dtype=np.int64)
        used, inv = np.unique(F, return_inverse=True)
        V = np.asarray(piece["vertices"], float)[used] / scale
        mesh = trimesh.Trimesh(V, inv.reshape(-1, 3), process=False)
        model.bodies.append(Body(piece.get("name") or f"body {k}", piece.get("kind") or "", mesh,
                                 tuple(piece.get("color", (200, 200, 200, 255))), {}))
    return model
