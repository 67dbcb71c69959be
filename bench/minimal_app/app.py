"""The smallest Hydra app (one config file, one value): the floor under any Hydra command's
start-up, timed by bench/startup.py beside ``shiftlab train --cfg job``."""

import hydra


@hydra.main(config_path=".", config_name="config", version_base="1.3")
def main(cfg) -> None:
    print(cfg)


if __name__ == "__main__":
    main()
