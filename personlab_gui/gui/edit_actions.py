"""Edits of the selected person and keypoint as window actions (keys, the Edit menu and
the canvas context menu): accept, visibility, delete, snap to the Hough maximum, swap
left and right, duplicate, crowd, and the mask regenerated from the model's embedding.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6 import QtCore, QtWidgets

from ..core.decoding.assist import nearest_maximum, reassigned_masks
from ..core.data.boxes import clip, nonzero_box, slices, union
from ..core.project import PersonRecord
from ..core.data.rle import box_rle
from ..core.skeleton import FLIP_PERMUTATION, KEYPOINT_NAMES
from .actions import ActionRegistry, make_action
from .commands import AddPerson, DeletePerson, EditPeople, PaintMask, edit_person
from .tools.base import ToolContext

#: A duplicate is shifted by this many image pixels (right and down, within the image), so both show.
DUPLICATE_OFFSET = 12
VISIBILITY_NAMES = ("not labelled", "occluded", "visible")


class EditActions(QtCore.QObject):
    """The actions, and what each does to the document (through commands)."""

    def __init__(self, ctx: ToolContext, actions: ActionRegistry,
                 place_keypoint: Callable[[int], None], assignment: Callable[[], str]) -> None:
        super().__init__(actions.widget)
        self.ctx, self._menu_parent = ctx, actions.widget
        self._place_keypoint, self._assignment = place_keypoint, assignment
        add = lambda *args: make_action(actions, *args)  # noqa: E731
        self.actions = {
            "accept": add("accept", "&Accept person", "A", self.accept),
            "accept_all": add("accept_all", "Accept all &people of the image", "Shift+A", self.accept_all),
            **{f"visibility_{v}": add(f"visibility_{v}", f"Keypoint {name} (v={v})", str(v),
                                      lambda v=v: self.set_visibility(v))
               for v, name in enumerate(VISIBILITY_NAMES)},
            "delete": add("delete", "&Delete keypoint (or person)", "Delete", self.delete),
            "delete_keypoint": add("delete_keypoint", "Delete keypoint", None, self.delete_keypoint),
            "delete_person": add("delete_person", "Delete p&erson", "Shift+Delete", self.delete_person),
            "snap": add("snap", "&Snap keypoint to Hough maximum", "Shift+S", self.snap),
            "swap": add("swap", "S&wap left and right", "Shift+X", self.swap),
            "duplicate": add("duplicate", "D&uplicate person", "Ctrl+D", self.duplicate),
            "crowd": add("crowd", "Mark as &crowd (or not)", "C", self.toggle_crowd),
            "regenerate": add("regenerate", "&Regenerate mask from embedding", "Ctrl+M", self.regenerate_mask),
        }

    # -- the selection ---------------------------------------------------------------
    def _keypoint(self) -> tuple[int, int] | None:
        person, keypoint = self.ctx.selection.person, self.ctx.selection.keypoint
        if person is None or keypoint is None:
            self.ctx.message("Select a keypoint first (click it).")
            return None
        return person, keypoint

    def _set_keypoint(self, person: int, keypoint: int, value: tuple, text: str) -> None:
        keypoints = self.ctx.doc.person(person).keypoints.copy()
        keypoints[keypoint] = value
        self.ctx.stack.push(edit_person(self.ctx.doc, person, text, keypoints=keypoints))

    # -- people ------------------------------------------------------------------------
    def accept(self) -> None:
        person = self.ctx.selected_person()
        if person is None:
            return
        if self.ctx.doc.person(person).provenance != "predicted":
            self.ctx.message(f"Person #{self.ctx.doc.number(person)} is not a prediction.")
            return
        self.ctx.stack.push(EditPeople(self.ctx.doc, f"Accept person #{self.ctx.doc.number(person)}",
                                       {person: {"provenance": "accepted"}}))

    def accept_all(self) -> None:
        predicted = [i for i, p in self.ctx.doc.people.items() if p.provenance == "predicted"]
        if not predicted:
            self.ctx.message("No predictions left on this image.")
            return
        changes = {i: {"provenance": "accepted"} for i in predicted}
        self.ctx.stack.push(EditPeople(self.ctx.doc, f"Accept {len(predicted)} people", changes))

    def delete(self) -> None:
        if self.ctx.selection.keypoint is not None:
            self.delete_keypoint()
        else:
            self.delete_person()

    def delete_person(self) -> None:
        person = self.ctx.selected_person()
        if person is not None:
            self.ctx.stack.push(DeletePerson(self.ctx.doc, person))

    def swap(self) -> None:
        person = self.ctx.selected_person()
        if person is not None:
            keypoints = self.ctx.doc.person(person).keypoints[FLIP_PERMUTATION]
            self.ctx.stack.push(edit_person(self.ctx.doc, person, "Swap left and right", keypoints=keypoints))

    def duplicate(self) -> None:
        person = self.ctx.selected_person()
        if person is None:
            return
        number = self.ctx.doc.number(person)
        command = AddPerson(self.ctx.doc, self._shifted_copy(person), f"Duplicate person #{number}")
        self.ctx.stack.push(command)
        self.ctx.selection.select(command.person_id)

    def _shifted_copy(self, person: int) -> PersonRecord:
        doc, d = self.ctx.doc, DUPLICATE_OFFSET
        source = doc.person(person)
        keypoints = source.keypoints.copy()
        labelled = keypoints[:, 2] > 0
        h, w = doc.image_hw
        keypoints[labelled, :2] = np.minimum(keypoints[labelled, :2] + d, [w - 1, h - 1])   # stays inside
        box = doc.mask_box(person)
        moved = None if box is None else clip((box[0] + d, box[1] + d, box[2] + d, box[3] + d), doc.image_hw)
        rle = None
        if moved is not None:
            crop = doc.mask(person)[slices((moved[0] - d, moved[1] - d, moved[2] - d, moved[3] - d))]
            rle = box_rle(crop, moved, doc.image_hw)
        return PersonRecord(keypoints, rle, iscrowd=source.iscrowd, provenance="manual")

    def toggle_crowd(self) -> None:
        person = self.ctx.selected_person()
        if person is not None:
            crowd = 1 - self.ctx.doc.person(person).iscrowd
            text = "Mark crowd" if crowd else "Unmark crowd"
            self.ctx.stack.push(edit_person(self.ctx.doc, person, text, iscrowd=crowd))

    # -- keypoints ---------------------------------------------------------------------
    def set_visibility(self, v: int) -> None:
        hit = self._keypoint()
        if hit is not None:
            x, y, _ = self.ctx.doc.person(hit[0]).keypoints[hit[1]]
            self._set_keypoint(*hit, (x, y, v), f"{KEYPOINT_NAMES[hit[1]]} {VISIBILITY_NAMES[v]}")

    def delete_keypoint(self) -> None:
        hit = self._keypoint()
        if hit is not None:
            self._set_keypoint(*hit, (0.0, 0.0, 0), f"Delete {KEYPOINT_NAMES[hit[1]]}")
            self.ctx.selection.select(hit[0])

    def snap(self) -> None:
        hit, result = self._keypoint(), self.ctx.result()
        if hit is None:
            return
        if result is None:
            self.ctx.message("Snapping needs the model's result for this image.")
            return
        x, y, v = self.ctx.doc.person(hit[0]).keypoints[hit[1]]
        target = nearest_maximum(result, hit[1], np.array([x, y]))
        if target is None:
            self.ctx.message(f"No Hough maximum of the {KEYPOINT_NAMES[hit[1]]} near it.")
            return
        self._set_keypoint(*hit, (*target, v or 2), f"Snap {KEYPOINT_NAMES[hit[1]]}")

    # -- masks -------------------------------------------------------------------------
    def regenerate_mask(self) -> None:
        """Re-run the mask assignment for the image's people as corrected (no network)."""
        person, result, doc = self.ctx.selected_person(), self.ctx.result(), self.ctx.doc
        if person is None:
            return
        if result is None or result.long_raw is None or result.segmentation is None:
            self.ctx.message("Regenerating masks needs a result with segmentation and long-range heads.")
            return
        people = [i for i, p in doc.people.items() if (p.keypoints[:, 2] > 0).any() and not p.iscrowd]
        if person not in people:
            self.ctx.message(f"Person #{doc.number(person)} needs labelled keypoints (and not be a crowd).")
            return
        masks = reassigned_masks(result, [doc.people[i].keypoints for i in people], self._assignment())
        mask = masks[people.index(person)]
        box = union(doc.mask_box(person), nonzero_box(mask))
        if box is None:
            self.ctx.message("The embedding gives this person no pixels.")
            return
        self.ctx.stack.push(PaintMask(doc, person, box, mask[slices(box)], "Regenerate mask"))

    # -- the context menu --------------------------------------------------------------
    def menu(self) -> QtWidgets.QMenu | None:
        """Actions on the selected person (and keypoint); None when nothing is selected."""
        person = self.ctx.selection.person
        if person is None:
            return None
        menu = QtWidgets.QMenu(self._menu_parent)
        menu.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        a = self.actions
        if self.ctx.selection.keypoint is not None:
            menu.addActions([a[n] for n in ("visibility_2", "visibility_1", "visibility_0",
                                            "delete_keypoint", "snap")])
            menu.addSeparator()
        missing = np.flatnonzero(self.ctx.doc.person(person).keypoints[:, 2] == 0)
        if len(missing):
            add = menu.addMenu("Add missing keypoint")
            for k in missing.tolist():
                add.addAction(KEYPOINT_NAMES[k], lambda k=k: self._place_keypoint(k))
        menu.addActions([a[n] for n in ("accept", "swap", "duplicate", "crowd", "regenerate", "delete_person")])
        return menu
