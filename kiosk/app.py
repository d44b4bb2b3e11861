"""The UI process: one pygame loop that feeds the flow core and runs its commands.

The loop turns pygame input and worker answers into flow events, carries out the
commands that come back (show a page, ask the server, reboot), and draws the
current page only when it changed, at the page's own pace.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pygame

from kiosk.config import Config, fill
from kiosk.flow import (
    CALLS,
    RESULTS,
    Cancel,
    Command,
    Confirm,
    DebugJump,
    EndPressed,
    Event,
    Flow,
    Page,
    Reboot,
    Rebooted,
    RebootFailed,
    ShowPage,
    Start,
    Tick,
    UserInput,
)
from kiosk.guardian_link import GuardianLink
from kiosk.identity import Identity, Unregistered
from kiosk.logs import Limiter, Trace, held_note
from kiosk.pace import Pace
from kiosk.platform import MaintenanceWatch, Outcome

if TYPE_CHECKING:
    from kiosk.cover import Cover
    from kiosk.platform.lockdown import Lockdown
    from kiosk.remote_log import RemoteLog

log = logging.getLogger(__name__)

TRACED_PAGES = frozenset({Page.STANDBY, Page.SCAN, Page.SESSION, Page.END, Page.UNPAID})
MEDIA_PAGES = frozenset({Page.STANDBY, Page.SCAN})  # the standby video, the background
ROUTE_AGAIN = frozenset({Outcome.SIMULATED, Outcome.SKIPPED})  # no reboot: start over
INTENTS = {"end": EndPressed, "confirm": Confirm, "cancel": Cancel}
DRAG_FPS = 60  # while the customer drags the widget, it follows the pointer smoothly
OFF_PAGE = (-1, -1)  # where a click on another monitor's cover lands on the page: on no button
POINTER_EVENTS = frozenset({pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP, pygame.MOUSEMOTION})


def described(arg: object) -> str:
    """What a failure line says about its input: an input event by its kind only (a key
    pressed in the admin prompt is a character of the password)."""
    if isinstance(arg, pygame.event.EventType):
        return pygame.event.event_name(arg.type)
    return f"{arg!r:.80}"


class App:
    """Owns the window, the loop and the dispatch between pygame, the core and workers."""

    def __init__(self, config: Config, server_url: str, link: GuardianLink,
                 rebooting: str | None, unregistered: Unregistered | None = None,
                 reboot_outcome: str = Outcome.STARTED, cover: Cover | None = None,
                 widget: str | None = None, remote: RemoteLog | None = None) -> None:
        """``widget``: the guardian's word on where the widget was in this session."""
        from kiosk.guardian import rebooter_for

        self.config = config
        self.cover = cover
        self.widget_token = widget
        self.unregistered = unregistered
        self.server_url = server_url
        self.link = link
        self.rebooting = rebooting
        self.reboot_outcome = Outcome(reboot_outcome)
        self.trace = Trace(config.trace, remote)
        self.rebooter = rebooter_for(config, self.trace)
        self.rebooter.on_failed = lambda reason: self._post("reboot_failed", reason)
        assert self.rebooter.maintenance is not None
        self.maintenance = MaintenanceWatch(self.rebooter.maintenance,
                                            config.guard.maintenance_check_s)
        self.banner: str | None = None  # the maintenance reason the screen shows
        self.flow = Flow(config.timers)
        self.start_at: float | None = None  # when a simulated reboot hands back to routing
        self.pace = Pace()
        self.releasing = False  # C is on screen: the full-screen pages' memory goes back
        self.running = True
        self.failures = Limiter()  # a bug hit on every frame is logged once a minute

    def run(self) -> int:
        from kiosk.widget import WidgetPlace
        from kiosk.window import KioskWindow

        # Black before anything heavy is imported (fonts, OpenCV, numpy, requests), if
        # main.py did not put it up before it even read the config.
        self.window = KioskWindow(fullscreen=self.config.fullscreen,
                                  window_size=self.config.window_size,
                                  corner=self.config.widget_corner,
                                  monitor=self.config.display_monitor, cover=self.cover,
                                  place=WidgetPlace.from_token(self.widget_token),
                                  on_place=lambda place: self.link.widget(place.token()),
                                  on_first_frame=self.trace.locked,
                                  keyboard=self._lockdown)
        self.cover = None
        pygame.font.init()
        self._admin_exit()
        self.answer_event = pygame.event.custom_type()
        if self.unregistered is not None:
            self._show_unregistered(self.unregistered)
        else:
            self._build()
            self.maintenance.start()
            self._route(time.monotonic())
        try:
            while self.running:
                started = time.monotonic()
                self._step()
                self.link.progress()
                fps = DRAG_FPS if self.window.drag.active else self.scene.fps
                self.pace.sleep(started, fps, self.scene.wake_at(time.monotonic()))
        finally:
            self.maintenance.stop()
            if self.unregistered is None:
                self._stop_workers()
            else:
                self.registration.stop()
            self.window.close()
            pygame.quit()
        return 0

    def _lockdown(self, window: pygame.Window, handles: Callable[[], list[int]]) -> Lockdown:
        """The lock of locked pages; the accessibility flags before are kept in log.dir, where
        the guardian and the next UI find them should this UI end without giving them back."""
        from kiosk.platform.lockdown import lockdown

        return lockdown(window, handles, self.config.log_dir)

    def _route(self, now: float) -> None:
        """Start the flow: routing as usual, or locked after the reboot we were started for."""
        if self.rebooting and self.reboot_outcome == Outcome.FAILED:
            self._feed(RebootFailed(now, self.rebooting), now)
        elif self.rebooting:
            self._feed(Rebooted(now, self.rebooting), now)
            if self.reboot_outcome in ROUTE_AGAIN:
                self.start_at = now + self.config.reboot_simulate_s
        else:
            self._feed(Start(now), now)
        self.link.on_reboot_failed = lambda: self._post("reboot_failed", "guardian")
        if self.link.reboot_failed.is_set():  # told before we listened
            self._post("reboot_failed", "guardian")

    def _admin_exit(self) -> None:
        """The admin prompt, made after the first black frame (its fonts and hashing are
        not worth a later lock)."""
        from kiosk.admin import parse_hash
        from kiosk.scenes.overlay import AdminExit

        stored = self.config.guard.admin_password_hash
        self.admin = AdminExit(parse_hash(stored) if stored else None)

    def _build(self) -> None:
        from kiosk.api import Api
        from kiosk.media import BACKGROUND, VIDEO, MediaCache
        from kiosk.scenes.base import Context
        from kiosk.scenes.end import EndScene
        from kiosk.scenes.locked import BootScene, RebootFailedScene, RebootingScene
        from kiosk.scenes.scan import ScanScene
        from kiosk.scenes.session import SessionScene
        from kiosk.scenes.standby import StandbyScene
        from kiosk.scenes.unpaid import UnpaidScene
        from kiosk.tls import Tls, Trust
        from kiosk.workers import Caller, Refresher

        config = self.config
        timers = config.timers
        tls = Tls(Trust(config.ca_file, config.cert_sha256), config.timeout_s)
        self.api = Api(self.server_url, config.client_id, timeout_s=config.timeout_s,
                       status_value=config.status_value, files_base_url=config.files_base_url,
                       period_s=min(timers.scan_poll_s, timers.session_poll_s,
                                    timers.unpaid_poll_s), method=config.method, tls=tls)
        self.media = MediaCache(config.cache_dir, config.files_base_url or self.server_url,
                                config.timeout_s, tls=tls)
        qr = {"client_id": config.client_id, "base_url": self.server_url}
        self.ctx = Context(flow=self.flow, client_id=config.client_id,
                           scan_qr=fill(config.qr_url, **qr), pay_qr=fill(config.pay_qr_url, **qr),
                           background=self.media.current(BACKGROUND),
                           video=self.media.current(VIDEO), debug=config.debug,
                           hw_decode=config.hw_decode, renderer=config.renderer,
                           window=self.window.window, trace=self.trace)
        self.scenes = {scene.page: scene(self.ctx) for scene in (
            BootScene, StandbyScene, ScanScene, SessionScene, EndScene, UnpaidScene,
            RebootingScene, RebootFailedScene)}
        self.scene = self.scenes[Page.BOOT]
        self.callers = {request: Caller(name, getattr(self.api, name), self._post)
                        for request, (name, _) in CALLS.items()}
        timers = config.timers
        self.refresher = Refresher(
            self.api, self.media, self._post, media_every_s=config.media_refresh_s,
            first_delay_s=self.flow.rng.uniform(0, timers.startup_spread_s),
            jitter=timers.jitter, media_shown=False)  # fetched once A or B is up
        self.refresher.start()

    def _show_unregistered(self, machine: Unregistered) -> None:
        """No id for this PC: 未登记的机器, locked, with no flow to move and no server to
        ask under a wrong id; only a registration gets past it (the UI then starts again)."""
        from kiosk.registration import RegistrationWatch
        from kiosk.scenes.base import Context
        from kiosk.scenes.unregistered import UnregisteredScene

        ctx = Context(flow=self.flow, client_id="", scan_qr="", pay_qr="",
                      debug=self.config.debug)
        self.scene = UnregisteredScene(ctx, machine)
        self.window.lock()
        self.link.page("unregistered")
        self.trace.at_page("unregistered")
        self.registration = RegistrationWatch(
            self.config, machine, lambda found: self._post("registered", found)).start()

    def _post(self, kind: str, answer: object) -> None:
        """Hand a worker's answer to the UI thread (pygame's queue is thread-safe)."""
        for _ in range(50):
            try:
                pygame.event.post(pygame.event.Event(self.answer_event, kind=kind, answer=answer))
                self.pace.wake()  # acted on now, not at the page's next frame
                return
            except pygame.error:
                time.sleep(0.02)  # the queue is full for a moment: the loop is draining it
        log.error("dropped a %s answer: the event queue stayed full", kind)

    # --- the loop ---

    def _step(self) -> None:
        now = time.monotonic()
        for event in pygame.event.get():
            self._guarded(self._on_event, event, now)
        if self.admin.poll(now):
            self._tell_watchdog()
            self._quit("admin exit")
            return
        if self.unregistered is None:  # an unregistered PC has no flow to move
            if self.start_at is not None and now >= self.start_at:
                self.start_at = None
                self._guarded(self._feed, Start(now), now)
            self._guarded(self._feed, Tick(now), now)
        self._guarded(self._guard, now)
        self._draw(now)
        if self.releasing:
            self.releasing = False
            self._guarded(self._release_full_screen)

    def _guard(self, now: float) -> None:
        self.window.typing(self.admin.open)  # the prompt's password comes as text input
        if self.window.guard(now):  # the monitors changed under the page
            self.scene.dirty = True
        # SDL stops telling of the pointer once it is off the widget: ask the OS each turn.
        if self.window.drag.active and not self.window.follow():
            self._let_go()

    def _guarded(self, handler: Callable[..., None], *args: object) -> None:
        """A bug in one event's handling is logged and skipped: it must never end the UI,
        which in a session would reboot the PC and cost the customer their session."""
        try:
            handler(*args)
        except Exception as exc:
            what = ", ".join(described(arg) for arg in args[:1])
            self._failed(f"{handler.__name__}({what})", handler.__name__, exc)

    def _failed(self, what: str, where: str, exc: Exception) -> None:
        """Log a bug with its traceback, once a minute for each place, page and kind of
        error, so a page failing on every frame cannot fill the disk."""
        held = self.failures.allow((where, self.flow.page, type(exc).__name__))
        if held is not None:
            log.error("%s failed on page %s%s", what, self.flow.page.value, held_note(held),
                      exc_info=exc)

    def _feed(self, event: Event, now: float) -> None:
        self._run_commands(self.flow.handle(event), now)

    def _on_event(self, event: pygame.event.Event, now: float) -> None:
        if event.type == self.answer_event:
            self._on_answer(event.kind, event.answer, now)
            return
        if event.type == pygame.QUIT:
            if self.config.debug:
                self._quit("debug exit")
            return
        if (event.type in (pygame.WINDOWFOCUSGAINED, pygame.WINDOWFOCUSLOST)
                and self.window.is_cover(event.window)):
            return  # the covers' focus is the page's (KioskWindow.take_focus_back)
        if event.type == pygame.WINDOWFOCUSGAINED:
            self.window.focus_gained()
        if event.type == pygame.WINDOWFOCUSLOST and not self.scene.widget:
            self.window.focus_lost()  # locked pages take it back from whatever stole it
            return
        if event.type == pygame.WINDOWEXPOSED:
            if self.window.exposed(event.window):
                self.scene.dirty = True
            return
        if self._dragging(event):
            return
        if event.type in POINTER_EVENTS and self.window.is_cover(getattr(event, "window", None)):
            # Input on another monitor is input on the page, but on none of its buttons.
            event = pygame.event.Event(event.type, {**event.dict, "pos": OFF_PAGE})
        if self.admin.handle(event, now):
            return
        if event.type == pygame.KEYDOWN and self.config.debug and self._debug_key(event, now):
            return
        intent = self.scene.handle_event(event)
        if intent == "input":
            self._feed(UserInput(now), now)
        elif intent in INTENTS:
            self._feed(INTENTS[intent](now), now)
        elif intent == "grab":
            self.window.grab(event.pos)
        elif intent == "collapse":
            self._collapse(True)

    def _dragging(self, event: pygame.event.Event) -> bool:
        """The widget follows the pointer while pressed; a click on the pill opens it.
        True when the event was the drag's."""
        if not self.window.drag.active:
            return False
        if event.type == pygame.MOUSEMOTION:
            if not self.window.follow(event.pos):
                self._let_go()
            return True
        if event.type == pygame.MOUSEBUTTONUP and event.button == 1:
            self.window.follow(event.pos)
            self._let_go()
            return True
        return False

    def _let_go(self) -> None:
        if self.window.let_go() and self.window.collapsed:
            self._collapse(False)  # a click on the pill opens the widget again

    def _collapse(self, collapsed: bool) -> None:
        self.window.set_collapsed(collapsed)
        self.ctx.widget_collapsed = self.window.collapsed
        self.scene.dirty = True

    def _debug_key(self, event: pygame.event.Event, now: float) -> bool:
        pages = {pygame.K_F1: Page.STANDBY, pygame.K_F2: Page.SCAN, pygame.K_F3: Page.SESSION,
                 pygame.K_F4: Page.END, pygame.K_F5: Page.UNPAID}
        if event.key in pages and self.unregistered is None:
            self._feed(DebugJump(now, pages[event.key]), now)
            return True
        if event.key == pygame.K_F12:
            self._quit("debug exit")
            return True
        return False

    def _on_answer(self, kind: str, answer: object, now: float) -> None:
        from kiosk.contract import ServiceNumber
        from kiosk.media import BACKGROUND, VIDEO

        if kind in RESULTS:
            self._feed(RESULTS[kind](now, answer), now)
        elif kind == "reboot_failed":
            self._feed(RebootFailed(now, str(answer)), now)
        elif kind == "registered" and isinstance(answer, Identity):
            # Not a quit: the guardian starts a new UI, which finds the id as any start does.
            log.info("this machine is registered now, as client %s (from %s): starting again",
                     answer.client_id, answer.source)
            self.running = False
        elif kind == "service" and isinstance(answer, ServiceNumber):
            if answer.number != self.ctx.service_number:
                self.ctx.service_number = answer.number
                self.scene.media_changed()
        elif kind == "media":
            self.ctx.background = self.media.current(BACKGROUND)
            self.ctx.video = self.media.current(VIDEO)
            for scene in self.scenes.values():
                scene.media_changed()

    def _run_commands(self, commands: list[Command], now: float) -> None:
        for command in commands:  # a failing one must not keep the next (a reboot) from running
            self._guarded(self._run_command, command, now)

    def _run_command(self, command: Command, now: float) -> None:
        if isinstance(command, ShowPage):
            # The guardian hears of the page first: it follows the flow (rule 3) even if
            # showing the page fails. The trace says when the page is on screen.
            self.link.page(command.page.value)
            self.trace.at_page(command.page.value)
            self.refresher.show_media(command.page in MEDIA_PAGES)
            self._show(command.page, now)
            if command.page in TRACED_PAGES:
                self.trace.scene(command.page.value, command.reason)
            log.info("page %s (%s)", command.page.value, command.reason)
        elif isinstance(command, Reboot):
            outcome = self.rebooter.reboot(command.reason)
            self.link.reboot(outcome)
            if outcome in ROUTE_AGAIN:
                self.start_at = now + self.config.reboot_simulate_s
        elif type(command) in self.callers:
            self.callers[type(command)].ask()

    def _show(self, page: Page, now: float) -> None:
        """Switch scene and window, and draw the page's first frame at once (the trace's
        page line is the moment it is on screen); the window follows the flow even when a
        scene fails, so a locked page always locks the screen."""
        previous, self.scene = self.scene, self.scenes[page]
        try:
            previous.leave()
        except Exception as exc:
            self._failed(f"leaving page {previous.page.value}", "leave", exc)
        if not self.scene.widget:
            self.window.lock()
            self._enter(now)
            self._draw(now, always=True)
            return
        from kiosk.widget import session_key

        self._enter(now)
        # Drawn before the window shrinks: the widget shows at once, never a window of its
        # size holding the page's pixels, or none.
        self.window.widget(session_key(self.config.client_id, self.flow.meter.session),
                           first_frame=lambda surface: self._first_widget_frame(surface, now))
        self.ctx.widget_collapsed = self.window.collapsed
        self.releasing = self.releasing or not previous.widget  # once the page is traced

    def _enter(self, now: float) -> None:
        try:
            self.scene.enter(now)
        except Exception as exc:
            self._failed(f"entering page {self.scene.page.value}", "enter", exc)

    def _first_widget_frame(self, surface: pygame.Surface, now: float) -> None:
        self.ctx.widget_collapsed = self.window.collapsed
        self._compose(surface, now, always=True)

    def _release_full_screen(self) -> None:
        """In C the game gets what only the full-screen pages needed: their images, the
        fonts and text at their sizes, and the heap the decoder and they left behind. They
        are made again when a full-screen page is shown."""
        import gc

        from kiosk.platform.memory import give_back, resident_mb
        from kiosk.scenes import draw
        from kiosk.video import decoder_code

        before = resident_mb()
        for scene in self.scenes.values():
            scene.release()
        draw.forget()
        gc.collect()
        done = give_back(decoder_code())
        after = resident_mb()
        resident = f", resident {before:.0f} → {after:.0f} MB" if before and after else ""
        log.info("the full-screen pages' memory is released (%s%s)", done, resident)

    def _draw(self, now: float, always: bool = False) -> None:
        """The page again, on screen, if it (or the overlay) changed, or ``always``: into
        the window's surface, or through SDL's renderer while the page uses one."""
        overlay_changed = self._due(now, always)
        if overlay_changed is None:
            return
        gpu = self.scene.gpu  # read after the page's update, which may have made it
        if gpu is None:
            self._paint(self.window.surface, now, overlay_changed)
            self.window.flip()
            return
        try:
            self.scene.draw_gpu(gpu, now)
            if self.scene.gpu is gpu:
                shown = (self.config.debug and not self.scene.widget) or self.banner or \
                    self.admin.open
                if shown and (overlay_changed or not gpu.has_overlay):
                    gpu.overlay(self._overlay_layer(gpu.size, now))
                elif not shown and gpu.has_overlay:
                    gpu.overlay(None)
                gpu.present()
        except Exception as exc:
            self._failed(f"drawing page {self.scene.page.value} through SDL's renderer",
                         "draw", exc)
            self.scene.drop_gpu()

    def _overlay_layer(self, size: tuple[int, int], now: float) -> pygame.Surface:
        """The overlays on a transparent image of the screen's size (drawn over the page
        by the renderer)."""
        layer = pygame.Surface(size, pygame.SRCALPHA)
        self._overlays(layer, now)
        return layer

    def _compose(self, surface: pygame.Surface, now: float, always: bool = False) -> bool:
        """Draw the page and its overlay into ``surface`` if they changed (or ``always``);
        True when drawn."""
        overlay_changed = self._due(now, always)
        if overlay_changed is None:
            return False
        self._paint(surface, now, overlay_changed)
        return True

    def _due(self, now: float, always: bool) -> bool | None:
        """None when neither the page nor the overlay changed (and not ``always``); else
        whether the overlay changed. The page's update runs here."""
        try:
            banner = self.maintenance.reason
            overlay_changed = self.admin.changed() or banner != self.banner
            self.banner = banner
            if not self.scene.update(now) and not overlay_changed and not always:
                return None
            return overlay_changed
        except Exception as exc:
            self._failed(f"updating page {self.scene.page.value}", "draw", exc)
            return True  # drawn afresh: plain black if drawing fails too

    def _paint(self, surface: pygame.Surface, now: float, overlay_changed: bool) -> None:
        try:
            if overlay_changed:
                surface.fill((0, 0, 0))  # what the overlay covered is drawn afresh
            self.scene.draw(surface, now)
            self._overlays(surface, now)
        except Exception as exc:
            # A drawing bug must not take the lock down: log it, show plain black, go on.
            self._failed(f"drawing page {self.scene.page.value}", "draw", exc)
            surface.fill((0, 0, 0))

    def _overlays(self, surface: pygame.Surface, now: float) -> None:
        from kiosk.scenes.overlay import maintenance_banner

        if self.config.debug and not self.scene.widget:
            self._draw_debug(surface)
        if self.banner:
            maintenance_banner(surface)
        self.admin.draw(surface, now)

    def _draw_debug(self, surface: pygame.Surface) -> None:
        from kiosk import strings
        from kiosk.scenes import draw

        lines = [strings.text("debug_banner"),
                 f"client {self.config.client_id} ({self.config.client_id_source}) · "
                 f"page {'unregistered' if self.unregistered else self.flow.page.value} · "
                 f"{self.server_url}",
                 self.window.keyboard.status()]  # a lock that does not hold is never silent
        for i, line in enumerate(lines):
            draw.text(surface, line, 14, (255, 220, 0), topleft=(8, 6 + 18 * i))

    def _tell_watchdog(self) -> None:
        """Before stopping: the watchdog (kiosk/watchdog_door.py) checks the password too
        and then leaves the kiosk stopped; without it this costs one failed connect."""
        from kiosk.watchdog_door import tell_watchdog

        log.info("admin exit: the watchdog says %s", tell_watchdog(self.admin.password or ""))

    def _quit(self, why: str) -> None:
        log.info("%s: stopping the kiosk without a reboot", why)
        self.link.quit()
        self.running = False

    def _stop_workers(self) -> None:
        for caller in self.callers.values():
            caller.stop()
        self.refresher.stop()


def run(config: Config, *, server_url: str, rebooting: str | None,
        guardian_args: list[str], unregistered: Unregistered | None = None,
        reboot_outcome: str = Outcome.STARTED, cover: Cover | None = None,
        widget: str | None = None, remote: RemoteLog | None = None) -> int:
    """The UI process's main; it never returns normally."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the guardian's to handle
    link = GuardianLink.from_stdio(guardian_args, hang_s=config.guard.hang_s)
    link.start()
    log.info("UI %d started (client %s, server %s)", os.getpid(), config.client_id, server_url)
    try:
        code = App(config, server_url, link, rebooting, unregistered, reboot_outcome,
                   cover, widget, remote).run()
    except Exception:
        log.exception("the UI failed; the guardian starts it again (or reboots in a session)")
        code = 1
    logging.shutdown()
    # Worker threads may sit in blocking reads (the guardian pipe, a stalled request);
    # leave without the interpreter's shutdown waiting on them.
    os._exit(code)
