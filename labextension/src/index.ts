/**
 * Courtyard's cull warning inside JupyterLab.
 *
 * The hub stops servers nobody uses. From `warn_before` seconds ahead, this plugin shows a
 * JupyterLab notification with a "Keep my server" action. It asks the hub (same origin, the
 * hub's session cookie goes along) and never the user's server, so its polling is not
 * activity: only a click on "Keep my server" is.
 *
 *   GET  <hub>/api/users/<name>/culling -> {seconds_left, warn, warn_in, reason}
 *   POST <hub>/api/users/<name>/keep    -> resets the idle clock
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';

const POLL_SECONDS = 30; // at most this long between two questions to the hub
const MIN_POLL_SECONDS = 2;
const WARN_POLL_SECONDS = 15; // while warning: keep the minutes current

interface CullStatus {
  seconds_left: number | null;
  warn: boolean;
  warn_in: number | null;
  reason: 'idle' | 'max_age' | null;
}

/** The hub's API URL for the server's owner, from this server's base URL. */
export function hubUserUrl(baseUrl: string): string | null {
  const match = /^(.*\/)user\/([^/]+)\/$/.exec(baseUrl);
  return match ? `${match[1]}hub/api/users/${match[2]}` : null;
}

class CullWarning {
  private notice: string | null = null;
  private timer: number | null = null;

  constructor(
    private readonly userUrl: string,
    private readonly trans: TranslationBundle
  ) {}

  start(): void {
    this.schedule(0);
  }

  private schedule(seconds: number): void {
    if (this.timer !== null) {
      window.clearTimeout(this.timer);
    }
    this.timer = window.setTimeout(() => void this.poll(), seconds * 1000);
  }

  private async poll(): Promise<void> {
    let status: CullStatus;
    try {
      const response = await fetch(`${this.userUrl}/culling`, {
        credentials: 'same-origin',
        cache: 'no-store'
      });
      if (response.status === 403 || response.status === 404) {
        this.dismiss(); // not a Courtyard hub, or no right to ask: stop quietly
        return;
      }
      if (!response.ok) {
        this.schedule(POLL_SECONDS);
        return;
      }
      status = (await response.json()) as CullStatus;
    } catch (error) {
      this.schedule(POLL_SECONDS); // the hub is restarting, the network is down
      return;
    }
    this.show(status);
    this.schedule(nextPoll(status));
  }

  private show(status: CullStatus): void {
    if (!status.warn || status.seconds_left === null) {
      this.dismiss();
      return;
    }
    const minutes = Math.max(1, Math.ceil(status.seconds_left / 60));
    const message =
      status.reason === 'max_age'
        ? this.trans._n(
            'Your server will be stopped in %1 minute: it has run for the longest time allowed. Save your work.',
            'Your server will be stopped in %1 minutes: it has run for the longest time allowed. Save your work.',
            minutes
          )
        : this.trans._n(
            'Your server will be stopped in %1 minute for inactivity.',
            'Your server will be stopped in %1 minutes for inactivity.',
            minutes
          );
    const actions =
      status.reason === 'idle'
        ? [
            {
              label: this.trans.__('Keep my server'),
              displayType: 'accent' as const,
              callback: () => void this.keep()
            }
          ]
        : [];
    const options = { autoClose: false as const, actions };
    if (this.notice !== null && Notification.manager.has(this.notice)) {
      Notification.update({ id: this.notice, message, type: 'warning', ...options });
    } else {
      this.notice = Notification.warning(message, options);
    }
  }

  private async keep(): Promise<void> {
    this.dismiss();
    try {
      const response = await fetch(`${this.userUrl}/keep`, {
        method: 'POST',
        credentials: 'same-origin'
      });
      if (!response.ok) {
        Notification.error(this.trans.__('The hub could not keep your server.'), {
          autoClose: 10000
        });
      }
    } catch (error) {
      Notification.error(this.trans.__('The hub could not be reached.'), {
        autoClose: 10000
      });
    }
    this.schedule(MIN_POLL_SECONDS);
  }

  private dismiss(): void {
    if (this.notice !== null) {
      Notification.dismiss(this.notice);
      this.notice = null;
    }
  }
}

/** Seconds until the next question: soon before the warning starts, else every 30 s. */
function nextPoll(status: CullStatus): number {
  if (status.warn) {
    return WARN_POLL_SECONDS;
  }
  if (status.warn_in === null) {
    return POLL_SECONDS;
  }
  return Math.min(POLL_SECONDS, Math.max(MIN_POLL_SECONDS, status.warn_in + 1));
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'courtyard-culling:plugin',
  description: "Warns before Courtyard's culler stops this server, with a 'Keep my server' action.",
  autoStart: true,
  optional: [ITranslator],
  activate: (app: JupyterFrontEnd, translator: ITranslator | null) => {
    const userUrl = hubUserUrl(PageConfig.getBaseUrl());
    if (userUrl === null) {
      return; // not a server under a Courtyard hub
    }
    const trans = (translator ?? nullTranslator).load('courtyard-culling');
    new CullWarning(userUrl, trans).start();
  }
};

export default plugin;
